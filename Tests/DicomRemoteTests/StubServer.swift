/// A small HTTP server for what nginx cannot be told to do: fail N times then succeed, answer
/// too slowly, close before the announced length, or send more than the range asked. Serves `bytes(i) = i * 31 mod 256` for
/// i < 100000 with Range support, and counts requests per path (GET /count?path=…).
let stubServerScript = #"""
import http.server, os, sys, threading, time, collections
SIZE = 100000
DATA = bytes((i * 31) & 255 for i in range(SIZE))
counts = collections.Counter()
lock = threading.Lock()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def send_bytes(self):
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            first, last = rng[6:].split("-")
            first = int(first); last = min(int(last) if last else SIZE - 1, SIZE - 1)
            body = DATA[first:last + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{last}/{SIZE}")
        else:
            body = DATA
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"stub"')
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        path, _, query = self.path.partition("?")
        with lock:
            counts[path] += 1
            n = counts[path]
        if path == "/count":
            body = str(counts[query.partition("=")[2]]).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body); return
        if path.startswith("/flaky/"):
            failures = int(path.split("/")[2])
            if n <= failures:
                body = b"<Error><Code>SlowDown</Code></Error>"
                self.send_response(503); self.send_header("Content-Length", str(len(body))); self.end_headers()
                self.wfile.write(body); return
            return self.send_bytes()
        if path == "/slow":
            time.sleep(3)
            return self.send_bytes()
        if path == "/toolong":
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-{SIZE - 1}/{SIZE}")
            self.send_header("Content-Length", str(SIZE))
            self.end_headers()
            self.wfile.write(DATA)
            return
        if path == "/short":
            self.send_response(206)
            self.send_header("Content-Range", "bytes 0-999/100000")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(DATA[:500]); self.wfile.flush()
            self.close_connection = True
            return
        self.send_bytes()

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print("PORT", server.server_address[1], flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
server.serve_forever()
"""#

func stubBytes(_ range: Range<Int>) -> [UInt8] { range.map { UInt8(truncatingIfNeeded: $0 * 31) } }
