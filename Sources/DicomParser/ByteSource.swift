#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Random access to the bytes of one DICOM object. The parser sees nothing else, so a file, a
/// memory buffer or (later) an HTTP range reader plug in the same way.
public protocol ByteSource: Sendable {
    /// Path or URL, for messages.
    var name: String { get }
    var size: UInt64 { get }
    /// Exactly `length` bytes from `offset`, or fewer only where the source ends.
    func read(offset: UInt64, length: Int) throws -> [UInt8]
    /// Several ranges at once, answers in the order asked (each as `read(offset:length:)` gives
    /// it). Remote sources merge near ranges and fetch in parallel; local files need not.
    func read(ranges: [(offset: UInt64, length: Int)]) throws -> [[UInt8]]
    /// Fills `buffer` from `offset` (as `read(offset:length:)` with the buffer's size) and
    /// returns how many bytes it wrote: the parser reads its window in place, without an array
    /// per read.
    func read(offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension ByteSource {
    public func read(ranges: [(offset: UInt64, length: Int)]) throws -> [[UInt8]] {
        try ranges.map { try read(offset: $0.offset, length: $0.length) }
    }

    public func read(offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let bytes = try read(offset: offset, length: buffer.count)
        let count = min(bytes.count, buffer.count)
        if count > 0 { bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: count) } }
        return count
    }
}

/// A local file read with pread(2): no shared file position, safe from several threads.
public final class FileByteSource: ByteSource {
    public let name: String
    public let size: UInt64
    private let descriptor: Int32

    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw DicomParserError(code == ENOENT ? .notFound : .cannotRead, source: path,
                                   message: "cannot open: \(String(cString: strerror(code)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw DicomParserError(.cannotRead, source: path, message: "cannot stat: \(String(cString: strerror(code)))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw DicomParserError(.cannotRead, source: path, message: "is a directory")
        }
        name = path
        descriptor = fd
        size = UInt64(max(0, info.st_size))
    }

    deinit { close(descriptor) }

    public func read(offset: UInt64, length: Int) throws -> [UInt8] {
        guard offset < size, length > 0 else { return [] }
        let count = Int(min(UInt64(length), size - offset))
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = try read(offset: offset, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    public func read(offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < size, buffer.count > 0 else { return 0 }
        let count = Int(min(UInt64(buffer.count), size - offset))
        var filled = 0
        while filled < count {
            let n = pread(descriptor, buffer.baseAddress! + filled, count - filled, off_t(offset) + off_t(filled))
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                throw DicomParserError(.cannotRead, source: name, offset: offset,
                                       message: "read failed: \(String(cString: strerror(code)))")
            }
            if n == 0 { break }  // the file shrank under us
            filled += n
        }
        return filled
    }
}

/// Bytes already in memory: stdin, inflated data sets, tests.
public struct MemoryByteSource: ByteSource {
    public let name: String
    public let bytes: [UInt8]
    public var size: UInt64 { UInt64(bytes.count) }

    public init(name: String = "<memory>", bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }

    public func read(offset: UInt64, length: Int) throws -> [UInt8] {
        guard offset < size, length > 0 else { return [] }
        let start = Int(offset)
        let end = start + min(length, bytes.count - start)
        return Array(bytes[start..<end])
    }

    public func read(offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < size, buffer.count > 0 else { return 0 }
        let start = Int(offset)
        let count = min(buffer.count, bytes.count - start)
        if count > 0 { bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: count) } }
        return count
    }
}

/// Counts the reads and bytes that pass through to another source (benchmarks, tests).
public final class CountingByteSource: ByteSource {
    private let base: any ByteSource
    private let counters = Mutex<(reads: Int, bytes: UInt64)>((0, 0))

    public init(_ base: any ByteSource) { self.base = base }
    public var name: String { base.name }
    public var size: UInt64 { base.size }
    public var readCount: Int { counters.withLock { $0.reads } }
    public var bytesRead: UInt64 { counters.withLock { $0.bytes } }

    public func read(offset: UInt64, length: Int) throws -> [UInt8] {
        let result = try base.read(offset: offset, length: length)
        counters.withLock { $0.reads += 1; $0.bytes += UInt64(result.count) }
        return result
    }

    public func read(offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = try base.read(offset: offset, into: buffer)
        counters.withLock { $0.reads += 1; $0.bytes += UInt64(count) }
        return count
    }

    /// Forwarded so a batching base (a remote source) still batches; counts one read per range.
    public func read(ranges: [(offset: UInt64, length: Int)]) throws -> [[UInt8]] {
        let results = try base.read(ranges: ranges)
        counters.withLock { counters in
            counters.reads += results.count
            counters.bytes += results.reduce(0) { $0 + UInt64($1.count) }
        }
        return results
    }
}
