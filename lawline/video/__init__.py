"""WebRTC: browser and village-terminal media, bridged to calls."""
