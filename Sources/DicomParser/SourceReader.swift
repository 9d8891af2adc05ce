#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DicomCore
import Synchronization

/// A cursor over a ByteSource with a read-ahead window, so that a header is read in one or two
/// reads and large values are skipped without being read at all.
///
/// The window is raw memory owned by the reader, filled in place by the source: the parser
/// reads element headers with plain loads, with no array bounds checks, copies or reference
/// counting per number (they were a third of the header parsing cost).
final class SourceReader {
    let source: any ByteSource
    let size: UInt64
    private let chunkSize: Int
    /// Owned; `windowCount` bytes of it hold the source from `windowStart`.
    private var window: UnsafeMutableRawBufferPointer
    private var windowCount = 0
    private var windowStart: UInt64 = 0
    /// Invariant: position <= size.
    private(set) var position: UInt64 = 0

    static let defaultChunkSize = 64 * 1024

    init(source: any ByteSource, chunkSize: Int = SourceReader.defaultChunkSize) {
        self.source = source
        self.size = source.size
        self.chunkSize = max(1, chunkSize)
        window = chunkSize == Self.defaultChunkSize ? SpareWindows.take() : Self.allocateWindow(max(16, chunkSize))
    }

    deinit {
        if window.count == Self.defaultChunkSize { SpareWindows.give(window) } else { free(window.baseAddress) }
    }

    /// malloc, not UnsafeMutableRawBufferPointer.allocate: the latter asks for alignment with
    /// posix_memalign, which costs ten times malloc for buffers of a few KiB.
    fileprivate static func allocateWindow(_ count: Int) -> UnsafeMutableRawBufferPointer {
        guard let memory = malloc(count) else { fatalError("out of memory for a \(count)-byte read window") }
        return UnsafeMutableRawBufferPointer(start: memory, count: count)
    }

    var remaining: UInt64 { size - position }
    var isAtEnd: Bool { position >= size }

    func seek(to offset: UInt64) {
        position = min(offset, size)
    }

    func truncated(_ what: String, tag: Tag? = nil) -> DicomParserError {
        DicomParserError(.invalid, source: source.name, offset: position, tag: tag, message: "truncated: \(what)")
    }

    /// Bytes of the window from the position on (0 when the position is outside it).
    @inline(__always)
    private var buffered: Int {
        guard position >= windowStart, position - windowStart <= UInt64(windowCount) else { return 0 }
        return windowCount - Int(position - windowStart)
    }

    @inline(__always)
    private var cursor: UnsafeRawPointer {
        UnsafeRawPointer(window.baseAddress!) + Int(position - windowStart)
    }

    /// Makes `count` bytes from the position available in the window and returns where they
    /// start.
    @inline(__always)
    private func ensure(_ count: Int, what: @autoclosure () -> String) throws -> UnsafeRawPointer {
        if buffered >= count { return cursor }
        try refill(count, what: what())
        return cursor
    }

    /// Slow path of `ensure`: a new window starting at the position.
    @inline(never)
    private func refill(_ count: Int, what: String) throws {
        guard UInt64(count) <= remaining else { throw truncated(what) }
        let want = Int(min(UInt64(max(chunkSize, count)), remaining))
        if want > window.count {
            free(window.baseAddress)
            window = Self.allocateWindow(want)
        }
        windowStart = position
        windowCount = 0
        let filled = try source.read(offset: position, into: UnsafeMutableRawBufferPointer(rebasing: window[0..<want]))
        windowCount = filled
        guard filled >= count else { throw truncated(what) }
    }

    /// At least `wanted` bytes from the position (fewer only where the source ends), for
    /// decoding a fixed-size structure in place. Valid until the next call that moves or reads.
    @inline(__always)
    func contiguous(_ wanted: Int) throws -> (bytes: UnsafeRawPointer, count: Int) {
        let available = buffered
        if available >= wanted { return (cursor, available) }
        let count = Int(min(UInt64(wanted), remaining))
        if available >= count { return (cursor, available) }
        try refill(count, what: "\(count) bytes")
        return (cursor, buffered)
    }

    /// Moves past bytes already made available by `contiguous`.
    @inline(__always)
    func advance(_ count: Int) {
        position += UInt64(count)
    }

    /// Whether the next bytes equal `expected`, without moving (false when fewer remain).
    func peekEquals(_ expected: StaticString, at offset: Int = 0) throws -> Bool {
        let count = expected.utf8CodeUnitCount
        guard UInt64(offset + count) <= remaining else { return false }
        let bytes = try ensure(offset + count, what: "\(offset + count) bytes")
        return memcmp(bytes + offset, expected.utf8Start, count) == 0
    }

    func peek(_ count: Int) throws -> [UInt8] {
        let bytes = try ensure(count, what: "\(count) bytes")
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    /// The next 2 bytes as a little-endian number, without moving.
    @inline(__always)
    func peekUInt16() throws -> UInt16 {
        UInt16(littleEndian: try ensure(2, what: "2 bytes").loadUnaligned(as: UInt16.self))
    }

    /// The next 4 bytes as a little-endian number, without moving.
    @inline(__always)
    func peekUInt32() throws -> UInt32 {
        UInt32(littleEndian: try ensure(4, what: "4 bytes").loadUnaligned(as: UInt32.self))
    }

    func uint16(bigEndian: Bool) throws -> UInt16 {
        let raw = try ensure(2, what: "2-byte number").loadUnaligned(as: UInt16.self)
        position += 2
        return bigEndian ? UInt16(bigEndian: raw) : UInt16(littleEndian: raw)
    }

    func uint32(bigEndian: Bool) throws -> UInt32 {
        let raw = try ensure(4, what: "4-byte number").loadUnaligned(as: UInt32.self)
        position += 4
        return bigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
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
        let start = try ensure(count, what: what())
        position += UInt64(count)
        // Not Array(unsafeUninitializedCapacity:): that one looks up the array's type metadata at
        // run time on every call (a third of the cost of a small value).
        return Array(UnsafeRawBufferPointer(start: start, count: count))
    }

    func skip(_ count: UInt64) throws {
        guard count <= remaining else { throw truncated("value of \(count) bytes") }
        position += count
    }
}

/// Windows of readers that are done, for the next reader: indexing reads thousands of headers,
/// and a fresh window each time cost a large malloc per file (4,000 instructions, a twentieth of
/// parsing a header: a request above the small-bin sizes makes glibc sort its free lists).
private enum SpareWindows {
    /// A window between two readers: owned by the list alone, so it may cross threads.
    private struct Spare: @unchecked Sendable { let memory: UnsafeMutableRawBufferPointer }

    /// Enough for one per indexing thread; more are freed.
    static let limit = 16
    private static let spares = Mutex<[Spare]>([])

    static func take() -> UnsafeMutableRawBufferPointer {
        spares.withLock { $0.popLast() }?.memory ?? SourceReader.allocateWindow(SourceReader.defaultChunkSize)
    }

    static func give(_ window: UnsafeMutableRawBufferPointer) {
        let spare = Spare(memory: window)
        let kept = spares.withLock { spares in
            guard spares.count < limit else { return false }
            spares.append(spare)
            return true
        }
        if !kept { free(window.baseAddress) }
    }
}
