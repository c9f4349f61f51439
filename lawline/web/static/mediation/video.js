// The room's video, on both the mediator's page and a party's: this browser's camera
// (a connection of its own, sending only) and the videos of those it hears (one more
// connection, which the server offers anew as people come and go; answered one offer
// at a time). A tile per seat: its video, or its name when it has none (a phone party).
import { $, draw, html } from "../lib/dom.js";
import { iceComplete } from "../lib/ice.js";
import { LABELS } from "../lib/labels.js";

export const video = { camera: null, watch: null, streams: [], seats: [], me: null };
const tracks = new Map();  // mid -> MediaStream, so a redraw keeps a playing video
let answering = Promise.resolve();

// The camera's connection with its offer complete; null without a camera.
export async function connectCamera(rtcConfig) {
  closeCamera();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } },
    });
  } catch {
    return null;
  }
  const pc = new RTCPeerConnection(rtcConfig || { iceServers: [] });
  for (const track of stream.getVideoTracks()) {
    pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
  }
  $("own-video").srcObject = stream;
  $("own-video").hidden = false;
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  video.camera = pc;
  return pc;
}

export function published(sdp) {
  if (video.camera) {
    video.camera.setRemoteDescription({ type: "answer", sdp }).catch((e) => console.warn(e));
  }
}

// The server's offer of the videos to watch: `answer(sdp)` sends this browser's answer.
export function watchOffer(f, rtcConfig, answer) {
  answering = answering.then(async () => {
    if (!video.watch) {
      video.watch = new RTCPeerConnection(rtcConfig || { iceServers: [] });
      video.watch.ontrack = drawTiles;
    }
    const pc = video.watch;
    await pc.setRemoteDescription({ type: "offer", sdp: f.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await iceComplete(pc);
    video.streams = f.streams;
    answer(pc.localDescription.sdp);
    drawTiles();
  }).catch((e) => console.warn(e));
}

function closeCamera() {
  if (video.camera) {
    for (const sender of video.camera.getSenders()) if (sender.track) sender.track.stop();
    video.camera.close();
  }
  video.camera = null;
  $("own-video").srcObject = null;
  $("own-video").hidden = true;
}

// Both connections closed (the room ended, or the media server restarted: offer again).
export function closeVideo() {
  closeCamera();
  if (video.watch) video.watch.close();
  video.watch = null;
  video.streams = [];
  tracks.clear();
  drawTiles();
}

// The seats as the server last told them (`participants`); `me`: this page's own seat.
export function showTiles(participants, me) {
  video.seats = participants;
  video.me = me;
  drawTiles();
}

function streamOf(mid) {
  const transceiver = video.watch && video.watch.getTransceivers().find((t) => t.mid === mid);
  if (!transceiver) return null;
  const track = transceiver.receiver.track;
  const known = tracks.get(mid);
  if (known && known.getTracks()[0] === track) return known;
  const stream = new MediaStream([track]);
  tracks.set(mid, stream);
  return stream;
}

function drawTiles() {
  const el = $("videos");
  if (!el) return;
  const byWho = new Map(video.streams.map((s) => [s.who, s]));
  const others = video.seats.filter((p) => p.who !== video.me && p.present);
  const mine = video.seats.find((p) => p.who === video.me);
  // Why a tile has no picture: a phone, a caucus this page is not in, or no camera.
  const why = (p) => (p.caucus && !(mine && mine.caucus) ? "背靠背谈话中"
    : p.reach === "phone" ? "电话" : "无画面");
  draw(el, html`${others.map((p) => {
    const s = byWho.get(p.who);
    const stream = s ? streamOf(s.mid) : null;
    return html`<figure class="tile ${p.speaking ? "speaking" : ""}" data-who=${p.who}
      data-video=${stream ? "yes" : "no"}>
      ${stream ? html`<video autoplay playsinline muted .srcObject=${stream}></video>`
        : html`<div class="no-video">${why(p)}</div>`}
      <figcaption>${p.name}（${LABELS.partyRole[p.role] || ""}）${p.muted ? " · 已静音" : ""}
        ${p.speaking ? " · 正在说话" : ""}</figcaption></figure>`;
  })}`);
}

// Frames decoded of a seat's video so far (what the tests read; 0 when not watched).
export async function framesFrom(who) {
  const s = video.streams.find((x) => x.who === who);
  const stream = s && streamOf(s.mid);
  if (!stream) return 0;
  const id = stream.getTracks()[0].id;
  let frames = 0;
  (await video.watch.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video" && r.trackIdentifier === id) {
      frames = r.framesDecoded || 0;
    }
  });
  return frames;
}
