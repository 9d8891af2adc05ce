import DicomCore

/// A cursor over a ByteSource with a read-ahead window, so that a header is read in one or two
/// reads and large values are skipped without being read at all.
final class SourceReader {
    let source: any ByteSource
    let size: UInt64
    private let chunkSize: Int
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0
    /// Invariant: position <= size.
    private(set) var position: UInt64 = 0

    init(source: any ByteSource, chunkSize: Int = 64 * 1024) {
        self.source = source
        self.size = source.size
        self.chunkSize = chunkSize
    }

    var remaining: UInt64 { size - position }
    var isAtEnd: Bool { position >= size }

    func seek(to offset: UInt64) {
        position = min(offset, size)
    }

    func truncated(_ what: String, tag: Tag? = nil) -> DicomParserError {
        DicomParserError(.invalid, source: source.name, offset: position, tag: tag, message: "truncated: \(what)")
    }

    /// Makes `count` bytes from the position available and returns their index in `window`.
    @inline(__always)
    private func ensure(_ count: Int, what: @autoclosure () -> String) throws -> Int {
        guard UInt64(count) <= remaining else { throw truncated(what()) }
        if position >= windowStart, position + UInt64(count) <= windowStart + UInt64(window.count) {
            return Int(position - windowStart)
        }
        let want = Int(min(UInt64(max(chunkSize, count)), remaining))
        window = try source.read(offset: position, length: want)
        windowStart = position
        guard window.count >= count else { throw truncated(what()) }
        return 0
    }

    func peek(_ count: Int) throws -> ArraySlice<UInt8> {
        let i = try ensure(count, what: "\(count) bytes")
        return window[i..<(i + count)]
    }

    /// The next 2 bytes as a little-endian number, without moving.
    func peekUInt16() throws -> UInt16 {
        let i = try ensure(2, what: "2 bytes")
        return UInt16(window[i]) | UInt16(window[i + 1]) << 8
    }

    /// The next 4 bytes as a little-endian number, without moving.
    func peekUInt32() throws -> UInt32 {
        let i = try ensure(4, what: "4 bytes")
        return UInt32(window[i]) | UInt32(window[i + 1]) << 8 | UInt32(window[i + 2]) << 16 | UInt32(window[i + 3]) << 24
    }

    func uint16(bigEndian: Bool) throws -> UInt16 {
        let i = try ensure(2, what: "2-byte number")
        position += 2
        let a = UInt16(window[i]), b = UInt16(window[i + 1])
        return bigEndian ? a << 8 | b : b << 8 | a
    }

    func uint32(bigEndian: Bool) throws -> UInt32 {
        let i = try ensure(4, what: "4-byte number")
        position += 4
        let b0 = UInt32(window[i]), b1 = UInt32(window[i + 1]), b2 = UInt32(window[i + 2]), b3 = UInt32(window[i + 3])
        return bigEndian ? b0 << 24 | b1 << 16 | b2 << 8 | b3 : b3 << 24 | b2 << 16 | b1 << 8 | b0
    }

    func bytes(_ count: Int, what: @autoclosure () -> String = "value") throws -> [UInt8] {
        if count == 0 { return [] }
        if count > chunkSize {
            // Large values are read straight into their own array, not through the window.
            guard UInt64(count) <= remaining else { throw truncated(what()) }
            let result = try source.read(offset: position, length: count)
            guard result.count == count else { throw truncated(what()) }
            position += UInt64(count)
            return result
        }
        let i = try ensure(count, what: what())
        position += UInt64(count)
        return Array(window[i..<(i + count)])
    }

    func skip(_ count: UInt64) throws {
        guard count <= remaining else { throw truncated("value of \(count) bytes") }
        position += count
    }
}
