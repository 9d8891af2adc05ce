import DicomCore
import DicomParser
#if canImport(Glibc)
import Glibc
#endif

/// `dwc retrieve-bulkdata`: the bytes that BulkDataURIs of `dwc metadata` and `dwc dump` name,
/// `file:///abs/path?offset=N&length=N[&inflated=1]`, reading only those bytes (one pread per
/// value up to 8 MiB, then 8 MiB at a time). `inflated=1` names a range of the inflated data
/// set of a Deflated Explicit VR Little Endian file: that file is inflated once per run.
///
/// Every URI is checked before anything is written: a malformed URI is a syntax error (1), a
/// missing file 21, a range past the end of the file (or of the inflated data set) 22.
public struct BulkDataOperation: Sendable {
    /// A parsed BulkDataURI.
    public struct Reference: Sendable, Equatable {
        public var path: String
        public var offset: UInt64
        public var length: UInt64
        public var inflated: Bool

        /// Parses `file:///abs/path?offset=N&length=N[&inflated=1]` (host empty or `localhost`,
        /// path percent-encoded); anything else is a syntax error.
        public init(parsing uri: String) throws {
            func malformed(_ why: String) -> DwcError {
                DwcError(.syntax, "\(uri): not a dwc BulkDataURI (\(why)); expected file:///path?offset=N&length=N[&inflated=1]")
            }
            guard uri.hasPrefix("file://") else { throw malformed("no file:// scheme") }
            var rest = Substring(uri.dropFirst("file://".count))
            if rest.hasPrefix("localhost/") { rest = rest.dropFirst("localhost".count) }
            guard rest.hasPrefix("/") else { throw malformed("a host other than localhost, or a relative path") }
            guard let question = rest.firstIndex(of: "?") else { throw malformed("no offset and length") }
            let encodedPath = rest[..<question]
            let query = rest[rest.index(after: question)...]
            guard !encodedPath.contains("#"), !query.contains("#") else { throw malformed("a fragment") }
            guard let decoded = Self.percentDecoded(encodedPath) else { throw malformed("bad percent-encoding") }
            guard !decoded.contains(0) else { throw malformed("a NUL in the path") }
            path = String(decoding: decoded, as: UTF8.self)
            var fields: [String: UInt64] = [:]
            for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw malformed("'\(pair)' is not key=value") }
                let key = String(parts[0])
                guard ["offset", "length", "inflated"].contains(key) else { throw malformed("unknown parameter '\(key)'") }
                guard fields[key] == nil else { throw malformed("'\(key)' given twice") }
                guard !parts[1].isEmpty, parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = UInt64(parts[1]) else {
                    throw malformed("'\(key)' is not a decimal number")
                }
                fields[key] = value
            }
            guard let offset = fields["offset"], let length = fields["length"] else { throw malformed("offset and length are required") }
            guard offset <= UInt64(Int64.max), length <= UInt64(Int64.max) - offset else { throw malformed("range too large") }
            guard (fields["inflated"] ?? 0) <= 1 else { throw malformed("inflated is 0 or 1") }
            self.offset = offset
            self.length = length
            inflated = fields["inflated"] == 1
        }

        static func percentDecoded(_ text: Substring) -> [UInt8]? {
            var out: [UInt8] = []
            var bytes = text.utf8.makeIterator()
            func hex(_ b: UInt8) -> UInt8? {
                switch b {
                case 0x30...0x39: return b - 0x30
                case 0x41...0x46: return b - 0x41 + 10
                case 0x61...0x66: return b - 0x61 + 10
                default: return nil
                }
            }
            while let b = bytes.next() {
                if b == UInt8(ascii: "%") {
                    guard let h = bytes.next().flatMap(hex), let l = bytes.next().flatMap(hex) else { return nil }
                    out.append(h << 4 | l)
                } else {
                    out.append(b)
                }
            }
            return out
        }
    }

    public enum Output: Sendable {
        /// All values, one after the other, to the sink (stdout).
        case stream
        /// All values, one after the other, into this file (created complete: temporary, rename).
        case file(String)
        /// One file per URI in this directory: 1.bin, 2.bin, … in the order given.
        case directory(String)
    }

    public var uris: [String]
    public var output: Output = .stream

    public init(uris: [String]) { self.uris = uris }

    /// Values above this are read in pieces of this size.
    static let chunkSize = 8 << 20

    /// Checks every URI, then writes the values; returns the number of bytes written.
    @discardableResult
    public func run(write: ([UInt8]) throws -> Void) throws -> UInt64 {
        guard !uris.isEmpty else { throw DwcError(.noInput, "no BulkDataURI given") }
        let references = try uris.map { try Reference(parsing: $0) }
        var files: [String: any ByteSource] = [:]
        var inflatedSets: [String: any ByteSource] = [:]
        var sources: [any ByteSource] = []
        for reference in references {
            let source: any ByteSource
            if reference.inflated {
                if let known = inflatedSets[reference.path] {
                    source = known
                } else {
                    let file = try DicomFileLoader().load(reference.path)
                    guard file.transferSyntax.isDeflated else {
                        throw DwcError(.invalidInput, "\(reference.path): inflated=1, but the file is not deflated (\(file.transferSyntax.description))")
                    }
                    source = file.source
                    inflatedSets[reference.path] = source
                }
            } else if let known = files[reference.path] {
                source = known
            } else {
                do { source = try FileByteSource(path: reference.path) } catch { throw DwcError(error) }
                files[reference.path] = source
            }
            guard reference.offset <= source.size, reference.length <= source.size - reference.offset else {
                throw DwcError(.invalidInput, "\(reference.path): bytes \(reference.offset)..<\(reference.offset + reference.length) "
                               + "lie past the end of the \(reference.inflated ? "inflated data set" : "file") (\(source.size) bytes); has the file changed?")
            }
            sources.append(source)
        }
        var total: UInt64 = 0
        for (index, (reference, source)) in zip(references, sources).enumerated() {
            switch output {
            case .stream:
                total += try copy(reference, from: source, to: write)
            case .file:
                continue
            case .directory(let directory):
                let path = (directory.hasSuffix("/") ? directory : directory + "/") + "\(index + 1).bin"
                try OutputFile.create(path) { fd in
                    total += try copy(reference, from: source) { try OutputFile.write(fd, $0, path: path) }
                }
            }
        }
        if case .file(let path) = output {
            try OutputFile.create(path) { fd in
                for (reference, source) in zip(references, sources) {
                    total += try copy(reference, from: source) { try OutputFile.write(fd, $0, path: path) }
                }
            }
        }
        return total
    }

    private func copy(_ reference: Reference, from source: any ByteSource, to write: ([UInt8]) throws -> Void) throws -> UInt64 {
        var offset = reference.offset
        let end = reference.offset + reference.length
        while offset < end {
            let want = Int(min(UInt64(Self.chunkSize), end - offset))
            let bytes: [UInt8]
            do { bytes = try source.read(offset: offset, length: want) } catch { throw DwcError(error) }
            guard bytes.count == want else {
                throw DwcError(.cannotReadInput, "\(reference.path): file shrank while it was read (offset \(offset))")
            }
            try write(bytes)
            offset += UInt64(want)
        }
        return reference.length
    }
}
