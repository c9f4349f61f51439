// What the console knows, shared by its panels, and the one way to talk to lawline.
import { toast } from "../lib/dom.js";

export const state = {
  socket: null,       // the lib/socket.js Socket (main.js opens it)
  get ws() { return this.socket && this.socket.ws; },
  lawyer: null,
  wrapupRules: null,  // {extend_s, extensions}: what 延长整理 gives (hello)
  offer: null,        // {contact, deadline, waited_s, history}
  call: null,         // the connected contact
  caseContact: null,  // the contact the case form belongs to
  histories: {},      // contact id -> the caller's earlier contacts (from its offer)
  pc: null,
  prepared: null,  // {id, pc: Promise} the offer made while a phone call is offered
  park: false,        // keep a connection parked while on duty (hello: media.park_lawyers)
  standby: null,      // {pc} the connection parked between calls (call.js)
  onStandby: false,   // the call's audio is the parked connection, moved into its room
  video: null,        // the VideoCall of a call from a village terminal
  tap: null,          // its voices to lawline, for the transcript
  localStream: null,
  remoteStream: null,
  meter: null,
  muted: false,
  held: false,
  transcript: null,   // the live transcript panel's state (transcript.js)
};
window.lawlineConsole = state;  // for the browser tests and for support staff

// A frame to lawline, or a word to the lawyer that it could not go.
export function send(type, fields = {}) {
  if (state.socket && state.socket.send(type, fields)) return true;
  toast("与服务器的连接已中断，正在重连…");
  return false;
}
