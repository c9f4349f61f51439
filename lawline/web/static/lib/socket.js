// The one websocket a page keeps to lawline: JSON frames by type, and back again
// after any loss, quickly at first, then at most every few seconds.
export class Socket {
  // path: "/api/.../ws"; handlers: {frameType(frame)}; onOpen(ws); onClose(event) returns
  // false when retrying is pointless (signed out, refused), or the ms to wait before the
  // next try when lawline asked for a long pause (4429, too many sockets); retry: first
  // and longest wait. connect() again after a false starts afresh.
  constructor(path, { handlers, onOpen = () => {}, onClose = () => true, firstRetryMs = 500, maxRetryMs = 5000 }) {
    this.path = path;
    this.handlers = handlers;
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.firstRetryMs = firstRetryMs;
    this.maxRetryMs = maxRetryMs;
    this.retryMs = firstRetryMs;
    this.ws = null;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${this.path}`);
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = this.firstRetryMs;
      this.onOpen(ws);
    };
    ws.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      const handle = this.handlers[frame.type];
      if (handle) handle(frame);
    };
    ws.onclose = (event) => {
      const verdict = this.onClose(event);
      if (verdict === false) return;
      if (typeof verdict === "number") {
        setTimeout(() => this.connect(), verdict);
        return;
      }
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, this.maxRetryMs);
    };
  }

  get open() { return Boolean(this.ws) && this.ws.readyState === WebSocket.OPEN; }

  // Sends {type, ...fields}; false if the socket is down (the caller says so, or not).
  send(type, fields = {}) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify({ type, ...fields }));
    return true;
  }
}
