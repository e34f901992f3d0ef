import BenchSupport
import FleetCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real HTTP server on loopback (Python's `http.server`) that records every request it gets
/// (method, path, headers, body) as one JSON line, and answers as its mode file says: `ok` (200),
/// `500`, or `hang` (never answers).
final class WebhookServer: Sendable {
    enum Mode: String {
        case ok
        case fail = "500"
        case hang
    }

    let directory: String
    let port: Int
    private let pid: pid_t

    private static let script = #"""
        import json, os, sys, time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        directory = sys.argv[1]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                with open(os.path.join(directory, "mode")) as f:
                    mode = f.read().strip()
                record = {"path": self.path, "headers": dict(self.headers.items()), "body": body, "mode": mode}
                with open(os.path.join(directory, "received.jsonl"), "a") as f:
                    f.write(json.dumps(record) + "\n")
                if mode == "hang":
                    time.sleep(3600)
                    return
                status = 500 if mode == "500" else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        with open(os.path.join(directory, "port.tmp"), "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))
        server.serve_forever()
        """#

    init(mode: Mode = .ok) async throws {
        directory = try TemporaryDirectory.make(prefix: "mpf-webhook-")
        try FileSystem.writeAtomically(directory + "/server.py", text: Self.script)
        try FileSystem.writeAtomically(directory + "/mode", text: mode.rawValue)
        pid = try BenchProcess.spawn(
            ["/usr/bin/python3", directory + "/server.py", directory], stderrPath: directory + "/server.err")
        // The port file appears once the socket listens (renamed into place, so never half-written).
        var port: Int?
        for _ in 0..<600 {
            if let text = FileSystem.readText(directory + "/port"), let value = Int(text) {
                port = value
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let port else {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            throw BenchError(
                "webhook server did not start: \(FileSystem.readText(directory + "/server.err") ?? "")")
        }
        self.port = port
    }

    deinit {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        TemporaryDirectory.remove(directory)
    }

    func url(_ path: String = "/hook") -> String { "http://127.0.0.1:\(port)\(path)" }

    func set(_ mode: Mode) throws { try FileSystem.writeAtomically(directory + "/mode", text: mode.rawValue) }

    /// Every request so far, oldest first.
    struct Request {
        var path: String
        var headers: [String: String]
        var body: String
        var mode: String
        /// The body parsed (the event).
        var event: JSONValue { (try? JSONValue.parse(body)) ?? .null }
    }

    var requests: [Request] {
        let text = FileSystem.readText(directory + "/received.jsonl") ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard case .object(let object)? = try? JSONValue.parse(String(line)) else { return nil }
            var headers: [String: String] = [:]
            if case .object(let fields)? = object["headers"] {
                for (key, value) in fields.entries { headers[key.lowercased()] = value.stringValue }
            }
            return Request(
                path: object["path"]?.stringValue ?? "", headers: headers,
                body: object["body"]?.stringValue ?? "",
                mode: object["mode"]?.stringValue ?? "")
        }
    }
}
