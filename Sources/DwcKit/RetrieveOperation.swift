import DicomCore
import DicomDeflate
import DicomIndex
import DicomParser
#if canImport(Glibc)
import Glibc
#endif

/// `dwc retrieve`: whole instances, as WADO-RS's instance, series and study resources give them:
/// files in a directory laid out by a template, one file on stdout, or a multipart/related
/// stream of application/dicom parts.
///
/// Files are copied byte for byte, in chunks (never read whole). With `transferSyntax` (Explicit
/// VR Little Endian) native files in another syntax (implicit VR, big endian, deflated) are
/// rewritten with DicomWriter. Encapsulated files in another syntax are refused (reported, not
/// written, exit 82): decompressing pixel data needs codecs, and delivering the compressed file
/// under a request for Explicit VR Little Endian would be a silently wrong answer.
public struct RetrieveOperation: Sendable {
    public enum Output: Sendable {
        /// Files under a directory, named by a layout template over {study} {series} {sop}.
        case directory(String, layout: Layout)
        /// One instance's bytes on stdout.
        case standardOutput
        /// A multipart/related; type="application/dicom" document on stdout.
        case multipart
    }

    /// A layout template: path components of literal text and {study} {series} {sop}, which are
    /// only ever replaced by valid UIDs (PS3.5 §9.1), so nothing can leave the output directory.
    public struct Layout: Sendable, CustomStringConvertible {
        public static let hierarchical = "{study}/{series}/{sop}.dcm"
        public static let flat = "{sop}.dcm"
        /// The default: `{study}/{series}/{sop}.dcm`.
        public static let standard = Layout(checked: hierarchical)
        public let template: String

        private init(checked template: String) { self.template = template }

        /// `hierarchical`, `flat` or a template; rejects absolute templates, empty, `.` and `..`
        /// components, unknown placeholders, and templates without {sop}.
        public init(parsing text: String) throws {
            switch text {
            case "hierarchical": template = Self.hierarchical
            case "flat": template = Self.flat
            default: template = text
            }
            guard !template.hasPrefix("/") else { throw DwcError(.syntax, "--layout \(text): must be relative to the output directory") }
            guard template.contains("{sop}") else { throw DwcError(.syntax, "--layout \(text): needs {sop}, or files would overwrite each other") }
            for component in template.split(separator: "/", omittingEmptySubsequences: false) {
                guard !component.isEmpty, component != ".", component != ".." else {
                    throw DwcError(.syntax, "--layout \(text): empty, '.' and '..' path components are not allowed")
                }
            }
            let literal = template.replacing("{study}", with: "").replacing("{series}", with: "").replacing("{sop}", with: "")
            guard !literal.contains("{"), !literal.contains("}") else {
                throw DwcError(.syntax, "--layout \(text): unknown placeholder (use {study} {series} {sop})")
            }
        }

        /// The relative path of an instance; nil when a UID is missing or not a valid UID.
        public func path(study: String, series: String, sop: String) -> String? {
            guard [study, series, sop].allSatisfy(UIDRegistry.isValid) else { return nil }
            return template.replacing("{study}", with: study).replacing("{series}", with: series).replacing("{sop}", with: sop)
        }

        public var description: String { template }
    }

    public var location: ArchiveLocation
    public var selection = InstanceSelection()
    public var output: Output = .directory(".", layout: .standard)
    /// Rewrite native files into this syntax (only Explicit VR Little Endian is supported).
    public var transferSyntax: TransferSyntax?

    public init(location: ArchiveLocation) { self.location = location }

    /// The syntaxes `transferSyntax` may name.
    public static let writableSyntaxes = [TransferSyntax.explicitVRLittleEndian]

    public typealias Sink = OutputSink

    public struct Summary: Sendable {
        public var written = 0
        public var rewritten = 0
        public var failed = 0
        /// Of the failed: encapsulated instances that `transferSyntax` would have to decompress.
        public var refused = 0
        /// Output paths, in order (directory output).
        public var paths: [String] = []
        /// 82 when an encapsulated instance was refused (it says more than 22 or 23 would), else
        /// 0, 22 (some failed) or 23 (all failed).
        public var status: ExitStatus {
            if refused > 0 { return .unsupportedTransferSyntax }
            return failed == 0 ? .ok : (written == 0 ? .noValidInput : .invalidInput)
        }
    }

    /// One instance ready to be delivered: its identity and where its bytes come from.
    struct Prepared {
        var name: String
        var studyUID: String
        var seriesUID: String
        var sopUID: String
        var transferSyntax: String
        enum Content {
            /// Copy the file (or stdin's bytes) as it is.
            case file(path: String)
            case memory([UInt8])
        }
        var content: Content
        /// Re-encoded in another transfer syntax.
        var rewritten = false
    }

    public func run(sink: Sink) throws -> Summary {
        if let transferSyntax, !Self.writableSyntaxes.contains(transferSyntax) {
            throw DwcError(.unsupportedTransferSyntax, "--transfer-syntax \(transferSyntax.uid): only \(Self.writableSyntaxes.map(\.description).joined(separator: ", ")) can be written; transcoding compressed pixel data needs codecs")
        }
        let instances = try InstanceResolver(location: location).resolve(selection)
        if case .standardOutput = output, instances.count != 1 {
            throw DwcError(.syntax, "-o - writes one instance; \(instances.count) selected (use -o DIR or --multipart)")
        }
        if case .directory(let directory, _) = output, !isWritableDirectory(directory) {
            throw DwcError(.badOutputDirectory, "\(directory): not a writable directory")
        }
        var summary = Summary()
        let boundary = "dwc-retrieve-\(UInt64.random(in: 0...UInt64.max))-\(UInt64.random(in: 0...UInt64.max))"
        if case .multipart = output {
            sink.write(Array("Content-Type: multipart/related; type=\"application/dicom\"; boundary=\(boundary)\r\n\r\n".utf8))
        }
        for instance in instances {
            do {
                let prepared = try prepare(instance, sink: sink)
                if let path = try deliver(prepared, boundary: boundary, sink: sink) { summary.paths.append(path) }
                summary.written += 1
                if prepared.rewritten { summary.rewritten += 1 }
            } catch {
                let failure = DwcError(error)
                summary.failed += 1
                if failure.status == .unsupportedTransferSyntax { summary.refused += 1 }
                sink.error(failure.message)
            }
        }
        if case .multipart = output { sink.write(Array("--\(boundary)--\r\n".utf8)) }
        return summary
    }

    /// Identity from the index when the file is unchanged, else from its header; the content
    /// rewritten when a transfer syntax is asked for and the file is native in another one.
    func prepare(_ instance: ResolvedInstance, sink: Sink) throws -> Prepared {
        let name = instance.isStandardInput ? "<stdin>" : instance.path
        var memory: [UInt8]?
        var identity: (study: String, series: String, sop: String, syntax: String)
        if let stored = instance.stored, instance.unchanged {
            identity = (stored.studyUID, stored.seriesUID, stored.sopUID, stored.transferSyntax)
        } else {
            let loader = DicomFileLoader(stopBeforePixels: true)
            let parsed: DicomFile
            if instance.isStandardInput {
                let source = try DicomFileLoader.standardInput()
                memory = source.bytes
                parsed = try loader.load(from: source)
            } else {
                if statFile(instance.path) == nil, instance.stored != nil {
                    throw DwcError(.noInput, "\(instance.path): indexed file is gone (run dwc index)")
                }
                parsed = try loader.load(instance.path)
            }
            let ds = parsed.dataSet
            identity = (ds.string(.studyInstanceUID) ?? "", ds.string(.seriesInstanceUID) ?? "",
                        ds.string(.sopInstanceUID) ?? "", parsed.transferSyntax.uid)
        }
        var prepared = Prepared(name: name, studyUID: identity.study, seriesUID: identity.series, sopUID: identity.sop,
                                transferSyntax: identity.syntax,
                                content: memory.map { .memory($0) } ?? .file(path: instance.path))
        guard let target = transferSyntax, target.uid != identity.syntax else { return prepared }
        let source = TransferSyntax(uid: identity.syntax)
        if source.isEncapsulated {
            throw DwcError(.unsupportedTransferSyntax,
                           "\(name): \(source.description) is encapsulated: --transfer-syntax \(target.uid) would need its pixel data decompressed, which dwc retrieve does not do; not written")
        }
        prepared.content = .memory(try rewrite(instance, stdin: memory, to: target))
        prepared.transferSyntax = target.uid
        prepared.rewritten = true
        return prepared
    }

    /// The whole instance re-encoded in `syntax` (values loaded from the file as they are needed).
    func rewrite(_ instance: ResolvedInstance, stdin: [UInt8]?, to syntax: TransferSyntax) throws -> [UInt8] {
        let loader = DicomFileLoader()
        let file = try stdin.map { try loader.load(from: MemoryByteSource(name: "<stdin>", bytes: $0)) } ?? loader.load(instance.path)
        var meta = file.fileMeta.isEmpty ? DicomWriter.fileMeta(for: file.dataSet, syntax: syntax) : file.fileMeta
        // The meta says who wrote the file last: now dwc.
        meta.set(DataElement(tag: .implementationClassUID, vr: .UI, bytes: DicomWriter.uidBytes(DicomWriter.implementationClassUID)))
        meta.set(DataElement(tag: .implementationVersionName, vr: .SH, bytes: DicomWriter.textBytes(DicomWriter.implementationVersionName)))
        // Meta values the reader left as references lie in the file, not in an inflated data set.
        for element in meta.elements {
            if case .bulk(let reference) = element.value {
                var copy = element
                copy.value = .bytes(try readRange(instance.path, stdin: stdin, reference))
                meta.set(copy)
            }
        }
        do {
            return try DicomWriter(deflate: ZlibDeflateCodec()).part10(dataSet: file.dataSet, meta: meta, syntax: syntax,
                                                                       loadValue: { try file.load($0) })
        } catch {
            throw DwcError(error)
        }
    }

    private func readRange(_ path: String, stdin: [UInt8]?, _ reference: BulkReference) throws -> [UInt8] {
        if let stdin {
            return try MemoryByteSource(bytes: stdin).read(offset: reference.offset, length: Int(reference.length))
        }
        do {
            return try FileByteSource(path: path).read(offset: reference.offset, length: Int(reference.length))
        } catch {
            throw DwcError(error)
        }
    }

    /// Writes one instance; returns the output path for directory output.
    func deliver(_ prepared: Prepared, boundary: String, sink: Sink) throws -> String? {
        switch output {
        case .standardOutput:
            try copyWhole(prepared) { sink.write($0) }
            return nil
        case .multipart:
            var header = "--\(boundary)\r\nContent-Type: application/dicom; transfer-syntax=\(prepared.transferSyntax)\r\n"
            if UIDRegistry.isValid(prepared.studyUID), UIDRegistry.isValid(prepared.seriesUID), UIDRegistry.isValid(prepared.sopUID) {
                header += "Content-Location: studies/\(prepared.studyUID)/series/\(prepared.seriesUID)/instances/\(prepared.sopUID)\r\n"
            }
            var announced: UInt64 = 0
            let written = try stream(prepared.content, start: { length in
                announced = length
                sink.write(Array((header + "Content-Length: \(length)\r\n\r\n").utf8))
            }) { sink.write($0) }
            if written < announced {
                // The file shrank while it was copied: keep the framing (the part is padded to its
                // Content-Length) and report the instance as failed.
                var missing = announced - written
                while missing > 0 {
                    let n = Int(min(missing, UInt64(Self.chunkSize)))
                    sink.write([UInt8](repeating: 0, count: n))
                    missing -= UInt64(n)
                }
                sink.write(Array("\r\n".utf8))
                throw DwcError(.cannotReadInput, "\(prepared.name): changed while it was copied (\(written) of \(announced) bytes); its part is padded")
            }
            sink.write(Array("\r\n".utf8))
            return nil
        case .directory(let directory, let layout):
            guard let relative = layout.path(study: prepared.studyUID, series: prepared.seriesUID, sop: prepared.sopUID) else {
                throw DwcError(.invalidInput, "\(prepared.name): Study, Series or SOP Instance UID missing or not a valid UID "
                               + "(study '\(prepared.studyUID)', series '\(prepared.seriesUID)', SOP '\(prepared.sopUID)'); not written")
            }
            let path = (directory.hasSuffix("/") ? directory : directory + "/") + relative
            if let slash = relative.lastIndex(of: "/") {
                try makeDirectories((directory.hasSuffix("/") ? directory : directory + "/") + relative[..<slash])
            }
            try OutputFile.create(path) { fd in
                try copyWhole(prepared) { chunk in try OutputFile.write(fd, chunk, path: path) }
            }
            return path
        }
    }

    /// The whole content, or an error when the file shrank while it was read.
    private func copyWhole(_ prepared: Prepared, _ body: ([UInt8]) throws -> Void) throws {
        var expected: UInt64 = 0
        let written = try stream(prepared.content, start: { expected = $0 }, body)
        if written < expected {
            throw DwcError(.cannotReadInput, "\(prepared.name): changed while it was copied (\(written) of \(expected) bytes)")
        }
    }

    /// The content in chunks of at most 1 MiB; returns the number of bytes passed on. `start`
    /// learns the length first (a file's size when it is opened; then exactly that many bytes
    /// are read, even if the file grows meanwhile).
    @discardableResult
    func stream(_ content: Prepared.Content, start: (UInt64) throws -> Void = { _ in }, _ body: ([UInt8]) throws -> Void) throws -> UInt64 {
        switch content {
        case .memory(let bytes):
            try start(UInt64(bytes.count))
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + Self.chunkSize)
                try body(Array(bytes[offset..<end]))
                offset = end
            }
            return UInt64(bytes.count)
        case .file(let path):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                throw DwcError(code == ENOENT ? .noInput : .cannotReadInput, "\(path): cannot open: \(String(cString: strerror(code)))")
            }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                throw DwcError(.cannotReadInput, "\(path): not a regular file")
            }
            let size = UInt64(max(0, info.st_size))
            try start(size)
            var total: UInt64 = 0
            var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
            while total < size {
                let want = Int(min(UInt64(Self.chunkSize), size - total))
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DwcError(.cannotReadInput, "\(path): read failed: \(String(cString: strerror(errno)))")
                }
                if n == 0 { break }
                try body(n == buffer.count ? buffer : Array(buffer[0..<n]))
                total += UInt64(n)
            }
            return total
        }
    }

    static let chunkSize = 1 << 20
}

/// Output files of retrieve and retrieve-bulkdata.
enum OutputFile {
    /// Creates `path` through a temporary file in the same directory and a rename, so that a reader
    /// never sees a half-written file and an interrupted retrieval leaves none behind.
    static func create(_ path: String, _ body: (Int32) throws -> Void) throws {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let temporary = String(path[..<slash]) + ".dwc-tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-" + String(path[slash...])
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DwcError(.cannotWriteOutput, "\(path): cannot create: \(String(cString: strerror(errno)))") }
        do {
            try body(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard close(fd) == 0 else {
            let code = errno
            unlink(temporary)
            throw DwcError(.cannotWriteOutput, "\(path): write failed: \(String(cString: strerror(code)))")
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw DwcError(.cannotWriteOutput, "\(path): cannot rename into place: \(String(cString: strerror(code)))")
        }
    }

    static func write(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DwcError(.cannotWriteOutput, "\(path): write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }
}
