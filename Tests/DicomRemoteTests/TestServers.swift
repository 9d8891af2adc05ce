import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the temporary directory, removed when released.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "dwc-remote-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: path + "/" + name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }
}

/// A port that was free a moment ago (bind to port 0, read the port, close). The servers
/// that take it retry with another one when it was taken in between.
func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length) }
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// True once something accepts connections on 127.0.0.1:port.
func accepts(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

struct ServerError: Error, CustomStringConvertible {
    let description: String
}

/// One request as nginx logged it.
struct LoggedRequest: Equatable, CustomStringConvertible {
    var method: String
    var uri: String
    /// The Range header, "" when absent.
    var range: String
    var ifMatch: String
    var status: Int
    /// nginx's serial number of the connection that carried the request (not compared by ==).
    var connection: Int = 0
    var description: String { "\(method) \(uri) range=\(range) if-match=\(ifMatch) → \(status) #\(connection)" }

    static func == (a: LoggedRequest, b: LoggedRequest) -> Bool {
        (a.method, a.uri, a.range, a.ifMatch, a.status) == (b.method, b.uri, b.range, b.ifMatch, b.status)
    }
}

/// nginx serving `root` on a random loopback port, in the foreground as the current user
/// (master_process off: no worker switching users), with an access log that records each
/// request's method, URI, Range and If-Match headers and status.
final class NginxServer: @unchecked Sendable {
    let directory: TemporaryDirectory
    let port: Int
    private let process: Process
    private var logPath: String { directory.path + "/access.log" }

    /// `locations`: extra nginx `location` blocks (e.g. one with `max_ranges 0;`).
    init(root: String, locations: String = "") throws {
        directory = try TemporaryDirectory()
        var lastError = ""
        for _ in 0..<5 {
            let port = freeLoopbackPort()
            let config = """
            daemon off;
            master_process off;
            error_log \(directory.path)/error.log warn;
            pid \(directory.path)/nginx.pid;
            events { worker_connections 128; }
            http {
                log_format probe '$request_method $uri "$http_range" "$http_if_match" $status $bytes_sent $connection';
                access_log \(directory.path)/access.log probe;
                client_body_temp_path \(directory.path)/tmp;
                proxy_temp_path \(directory.path)/tmp;
                fastcgi_temp_path \(directory.path)/tmp;
                uwsgi_temp_path \(directory.path)/tmp;
                scgi_temp_path \(directory.path)/tmp;
                keepalive_requests 100000;
                server {
                    listen 127.0.0.1:\(port);
                    root \(root);
                    \(locations)
                }
            }
            """
            try Data(config.utf8).write(to: URL(fileURLWithPath: directory.path + "/nginx.conf"))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.executable)
            process.arguments = ["-p", directory.path, "-c", directory.path + "/nginx.conf", "-e", directory.path + "/error.log"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            for _ in 0..<250 where process.isRunning && !accepts(port: port) { usleep(20_000) }
            if process.isRunning && accepts(port: port) {
                self.port = port
                self.process = process
                return
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            lastError = (try? String(contentsOfFile: directory.path + "/error.log", encoding: .utf8)) ?? ""
        }
        throw ServerError(description: "nginx did not start: \(lastError)")
    }

    static var executable: String {
        ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"].first { FileManager.default.fileExists(atPath: $0) }
            ?? "nginx"
    }

    // SIGKILL: a child of the test runner may start with SIGTERM blocked (the runner's threads
    // block it), and nginx's single-process mode does not unblock it.
    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    /// The logged requests, waiting (briefly) for at least `count` lines: nginx writes a line
    /// after the answer is sent, so the client may be done a moment before the log is.
    func requests(atLeast count: Int = 0) -> [LoggedRequest] {
        var lines: [LoggedRequest] = []
        for _ in 0..<100 {
            lines = parseLog()
            if lines.count >= count { break }
            usleep(20_000)
        }
        usleep(50_000)
        return parseLog()
    }

    func clearLog() throws {
        try Data().write(to: URL(fileURLWithPath: logPath))
        usleep(10_000)
    }

    private func parseLog() -> [LoggedRequest] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            // METHOD URI "RANGE" "IF-MATCH" STATUS BYTES CONNECTION
            let quoted = line.split(separator: "\"", omittingEmptySubsequences: false)
            guard quoted.count == 5 else { return nil }
            let head = quoted[0].split(separator: " ")
            let tail = quoted[4].split(separator: " ")
            guard head.count == 2, let status = tail.first.flatMap({ Int($0) }) else { return nil }
            // nginx escapes quotes in logged values as \x22.
            func unset(_ s: Substring) -> String { s == "-" ? "" : s.replacingOccurrences(of: "\\x22", with: "\"") }
            return LoggedRequest(method: String(head[0]), uri: String(head[1]), range: unset(quoted[1]),
                                 ifMatch: unset(quoted[3]), status: status,
                                 connection: tail.count > 2 ? Int(tail[2]) ?? 0 : 0)
        }
    }
}

/// A Python program serving HTTP on a loopback port it chooses itself (it prints `PORT n` on
/// its first line, maybe followed by more space-separated fields); it exits when its standard
/// input closes, so it cannot outlive the tests.
final class PythonServer: @unchecked Sendable {
    let port: Int
    /// What followed the port on the first line.
    let fields: [String]
    private let process: Process
    private let input: Pipe

    init(script: String, arguments: [String] = [], environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        // stderr to a file: a chatty server (moto logs every request) would fill a pipe and block.
        let errorPath = NSTemporaryDirectory() + "dwc-remote-python-" + UUID().uuidString + ".log"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        defer { try? errors.close(); try? FileManager.default.removeItem(atPath: errorPath) }
        let output = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardInput = input
        process.standardError = errors
        try process.run()
        // Read the first line ("PORT n …") with read(2), retrying on EINTR (FileHandle's
        // readData traps on an interrupted read).
        var line = [UInt8]()
        let fd = output.fileHandleForReading.fileDescriptor
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 || byte == 0x0A { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        let words = text.split(separator: " ").map(String.init)
        guard words.count >= 2, words[0] == "PORT", let port = Int(words[1]) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let stderr = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            throw ServerError(description: "python server did not start: \(text) \(stderr.suffix(2000))")
        }
        self.port = port
        self.fields = Array(words.dropFirst(2))
        self.process = process
        self.input = input
    }

    deinit {
        try? input.fileHandleForWriting.close()
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var base: String { "http://127.0.0.1:\(port)" }
}

/// Runs a Python snippet to completion; its standard output, or an error with its stderr.
@discardableResult
func runPython(_ script: String, _ arguments: [String] = []) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ServerError(description: "python failed: \(String(decoding: err, as: UTF8.self).suffix(3000))")
    }
    return String(decoding: out, as: UTF8.self)
}

/// Deterministic pseudo-random bytes (xorshift), so fixtures are the same on every run.
func patternBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    var out = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        out[i] = UInt8(truncatingIfNeeded: state)
    }
    return out
}
