// lawline answers WebRTC offers without trickle ICE: an offer goes with every candidate
// in it, once gathering is complete (or after 3 s with what there is).
export function iceComplete(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 3000);
  });
}
