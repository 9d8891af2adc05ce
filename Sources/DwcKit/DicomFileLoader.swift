import DicomCore
import DicomDeflate
import DicomParser
import DicomRemote
#if canImport(Glibc)
import Glibc
#endif

/// Opens DICOM inputs the way every command does: a path, a URL (https://, s3://, gs://: only the
/// header is fetched, see RemoteAccess), or "-" for a Part 10 stream on stdin.
public struct DicomFileLoader: Sendable {
    public var options: ParseOptions

    public init(stopBeforePixels: Bool = false, strict: Bool = false) {
        options = ParseOptions(stopBefore: stopBeforePixels ? .pixelData : nil, strict: strict, deflate: ZlibDeflateCodec())
    }

    public func load(_ path: String) throws -> DicomFile {
        try Self.parse(path, options: options)
    }

    /// Parses `path` (a file, a URL or "-") with `options`.
    public static func parse(_ path: String, options: ParseOptions) throws -> DicomFile {
        do {
            if RemoteAccess.isRemote(path) {
                return try RemoteAccess.read(RemoteAccess.source(path), options: options)
            }
            let source: any ByteSource = path == "-" ? try Self.standardInput() : try FileByteSource(path: path)
            return try DicomReader(options: options).read(from: source)
        } catch {
            throw DwcError(error)
        }
    }

    public func load(from source: any ByteSource) throws -> DicomFile {
        do {
            if let remote = source as? RemoteByteSource { return try RemoteAccess.read(remote, options: options) }
            return try DicomReader(options: options).read(from: source)
        } catch {
            throw DwcError(error)
        }
    }

    /// stdin is not seekable in general: it is read whole into memory.
    static func standardInput() throws -> MemoryByteSource {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DwcError(.cannotReadInput, "<stdin>: read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        if bytes.isEmpty { throw DwcError(.noInput, "<stdin>: no input") }
        return MemoryByteSource(name: "<stdin>", bytes: bytes)
    }
}

extension DicomFile {
    /// A DICOMDIR (Media Storage Directory Storage in the meta), which index and store skip.
    /// Compared on the element's bytes: index runs ask it of every file.
    var isDICOMDIR: Bool {
        guard let bytes = fileMeta[.mediaStorageSOPClassUID]?.bytes else { return false }
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0 || bytes[end - 1] == 0x20 { end -= 1 }
        return bytes[..<end].elementsEqual("1.2.840.10008.1.3.10".utf8)
    }
}
