#if canImport(Glibc)
import Glibc
#endif
import DwcKit

/// Buffered stdout, unbuffered stderr, on the file descriptors themselves. Data goes to stdout,
/// messages to stderr with dcmtk's prefixes E: W: I: D:.
enum Output {
    nonisolated(unsafe) static var verbosity = 0  // -1 quiet, 0 normal, 1 verbose, 2 debug
    nonisolated(unsafe) private static var buffer: [UInt8] = []
    private static let bufferLimit = 1 << 16

    static func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= bufferLimit { flush() }
    }

    static func write(bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= bufferLimit { flush() }
    }

    static func flush() {
        guard !buffer.isEmpty else { return }
        let ok = buffer.withUnsafeBytes { writeAll(1, $0) }
        buffer.removeAll(keepingCapacity: true)
        if !ok {
            // A closed pipe (`dwc … | head`) ends the program quietly.
            if errno == EPIPE { Glibc.exit(0) }
            error("cannot write to standard output: \(String(cString: strerror(errno)))")
            Glibc.exit(ExitStatus.cannotWriteOutput.rawValue)
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    static func error(_ message: String) { log("E", message) }
    static func warning(_ message: String) { if verbosity >= 0 { log("W", message) } }
    static func info(_ message: String) { if verbosity >= 1 { log("I", message) } }
    static func debug(_ message: String) { if verbosity >= 2 { log("D", message) } }

    static func log(_ prefix: String, _ message: String) { standardError("\(prefix): \(message)\n") }

    static func standardError(_ text: String) {
        var text = text
        _ = text.withUTF8 { writeAll(2, UnsafeRawBufferPointer($0)) }
    }

    static var stdoutIsTerminal: Bool { isatty(1) == 1 }
}
