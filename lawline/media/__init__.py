"""The media server: Janus (AudioBridge rooms, VideoRoom) as a child of `lawline serve`,
its configuration and lawline's client of its HTTP API."""
