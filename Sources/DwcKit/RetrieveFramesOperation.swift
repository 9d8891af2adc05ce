import DicomCore
import DicomIndex
import DicomParser
import DicomRemote
#if canImport(Glibc)
import Glibc
#endif

/// `dwc retrieve-frames`: frames out of files with one read each, found through the index's
/// frame table when there is one, else located (and the table kept for next time).
///
/// URLs (https://, s3://, gs://) are read the same way: an indexed object costs one ranged GET
/// per frame (If-Match on the indexed ETag; near frames merged into one request; up to
/// `parallel` requests at once). An object that changed since it was indexed (HTTP 412) is
/// indexed again once and the frames read again.
public struct RetrieveFramesOperation: Sendable {
    public enum Output: Sendable {
        /// Files in a directory, named by a template over {sop} {frame} {series} {study} {ext}.
        case directory(String, nameTemplate: String)
        /// One frame's bytes on stdout.
        case standardOutput
        /// A multipart/related document, one part per frame, on stdout.
        case multipart
    }

    public var location: ArchiveLocation
    /// Paths, SOP Instance UIDs, or "-" (a Part 10 stream on stdin).
    public var inputs: [String] = []
    public var studyUID: String?
    public var seriesUID: String?
    public var frames: FrameSelection?
    public var output: Output = .directory(".", nameTemplate: "{sop}_{frame}.{ext}")
    public var manifest = false
    /// `--media-type`: decode or transcode frames (nil: the frames as stored).
    public var mediaType: String?
    /// Frames asked of the source at once (a remote source fetches a batch in parallel, over
    /// the same connections): up to this many frames...
    public var batchFrames = 4096
    /// ...or bytes, which bounds the memory a batch holds.
    public var batchBytes: UInt64 = 64 << 20

    public init(location: ArchiveLocation) { self.location = location }

    /// Where written data goes: the command line gives stdout here.
    public struct Sink: Sendable {
        public var write: @Sendable ([UInt8]) -> Void
        public var warning: @Sendable (String) -> Void
        public init(write: @escaping @Sendable ([UInt8]) -> Void, warning: @escaping @Sendable (String) -> Void) {
            self.write = write
            self.warning = warning
        }
    }

    /// One instance ready to read frames from.
    struct Target {
        var name: String
        /// Where the header can be read again (for transcoding); nil for stdin.
        var path: String?
        var parsed: DicomFile?
        var sopUID: String
        var seriesUID: String
        var studyUID: String
        var transferSyntax: String
        var reader: FrameReader
        /// A URL: on HTTP 412 it is read (and indexed) again, once.
        var isRemote = false
        var retried = false
    }

    public func run(sink: Sink) throws -> Int {
        let index = try openIndexIfPresent()
        var targets: [Target] = []
        for input in inputs {
            targets.append(try target(for: input, index: index, sink: sink))
        }
        if studyUID != nil || seriesUID != nil {
            guard let index else { throw DwcError(.noInput, "\(location.indexPath): no index; run dwc index first") }
            let stored = try wrap { try index.instances(studyUID: studyUID, seriesUID: seriesUID) }
            if stored.isEmpty {
                throw DwcError(.noInput, "no instances for \(studyUID.map { "study \($0)" } ?? "")\(seriesUID.map { " series \($0)" } ?? "")")
            }
            for instance in stored { targets.append(try target(for: instance, index: index, sink: sink)) }
        }
        guard !targets.isEmpty else { throw DwcError(.noInput, "nothing to retrieve: give files, UIDs, --study or --series") }

        // Check every selection before writing anything.
        let plans = try targets.map { t in (t, try frames?.frames(count: t.reader.layout.frameCount, instance: t.name) ?? Array(1...max(1, t.reader.layout.frameCount))) }
        let total = plans.reduce(0) { $0 + $1.1.count }
        if case .standardOutput = output, total != 1 {
            throw DwcError(.syntax, "-o - writes one frame; \(total) selected (use -o DIR or --multipart)")
        }
        let boundary = "dwc-frames-boundary-\(UInt32.random(in: 0...UInt32.max))"
        if case .multipart = output {
            sink.write(Array("Content-Type: multipart/related; type=\"application/octet-stream\"; boundary=\(boundary)\r\n\r\n".utf8))
        }
        let transcoder = try mediaType.map { try FrameTranscoder(mediaType: $0) }
        var written = 0
        for (planned, numbers) in plans {
            var target = planned
            // Decoding needs the pixel description: the header, read again when the index served.
            var instance: FrameTranscoder.Instance?
            if let transcoder, !transcoder.passesThrough(transferSyntax: target.transferSyntax) {
                let file = try target.parsed ?? DicomFileLoader(stopBeforePixels: true).load(target.path ?? target.name)
                instance = try transcoder.instance(for: file, name: target.name)
            }
            // A batch of frames is one read of the source (one merged, parallel fetch for a URL).
            var batch: [[UInt8]] = [], batchStart = 0
            for (position, number) in numbers.enumerated() {
                if position == batchStart + batch.count {
                    batchStart = position
                    var end = position + 1, bytes = try wrap { try target.reader.span(of: number).length }
                    while end < numbers.count, end - position < batchFrames {
                        let next = try wrap { try target.reader.span(of: numbers[end]).length }
                        if bytes + next > batchBytes { break }
                        bytes += next
                        end += 1
                    }
                    batch = try readFrames(Array(numbers[position..<end]), of: &target, index: index, sink: sink)
                }
                var bytes = batch[position - batchStart]
                let span = try wrap { try target.reader.span(of: number) }
                var contentType = MediaTypes.frameContentType(transferSyntax: target.transferSyntax)
                var fileExtension = MediaTypes.fileExtension(transferSyntax: target.transferSyntax)
                if let instance {
                    let converted = try instance.transcode(bytes, frame: number)
                    (bytes, contentType, fileExtension) = (converted.bytes, converted.contentType, converted.fileExtension)
                }
                switch output {
                case .standardOutput:
                    sink.write(bytes)
                case .multipart:
                    sink.write(Array("--\(boundary)\r\nContent-Type: \(contentType)\r\nContent-Length: \(bytes.count)\r\nContent-Location: frames/\(target.sopUID)/\(number)\r\n\r\n".utf8))
                    sink.write(bytes)
                    sink.write(Array("\r\n".utf8))
                case .directory(let directory, let template):
                    let name = Self.fileName(template, sop: target.sopUID, frame: number, series: target.seriesUID,
                                             study: target.studyUID, ext: fileExtension)
                    let slash = UInt8(ascii: "/")
                    let nested = name.utf8.contains(slash)
                    guard !nested || template.utf8.contains(slash) else {
                        throw DwcError(.badOutputDirectory, "\(name): a UID made a path; check --name")
                    }
                    let path = directory + "/" + name
                    if nested { try makeDirectories(String(path[..<path.lastIndex(of: "/")!])) }
                    try writeFile(path, bytes)
                    if manifest {
                        sink.write(Array(("{\"path\": \(jsonString(path)), \"SOPInstanceUID\": \(jsonString(target.sopUID)), \"frame\": \(number), "
                            + "\"transferSyntaxUID\": \(jsonString(target.transferSyntax)), \"offset\": \(span.offset), \"length\": \(bytes.count)}\n").utf8))
                    }
                }
                written += 1
            }
        }
        if case .multipart = output { sink.write(Array("--\(boundary)--\r\n".utf8)) }
        return written
    }

    /// A frame's file name: the template with {sop} {frame} {series} {study} {ext} filled in, in
    /// one pass (five `String.replacing` per frame were 8 % of the CPU of a 100-frame retrieval).
    /// Other braces are kept as they are.
    public static func fileName(_ template: String, sop: String, frame: Int, series: String, study: String, ext: String) -> String {
        var name = ""
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            name += rest[..<open]
            let field = rest[rest.index(after: open)...]
            if let close = field.firstIndex(of: "}") {
                let value: String?
                switch field[..<close] {
                case "sop": value = sop
                case "frame": value = String(frame)
                case "series": value = series
                case "study": value = study
                case "ext": value = ext
                default: value = nil
                }
                if let value {
                    name += value
                    rest = field[field.index(after: close)...]
                    continue
                }
            }
            name += "{"
            rest = field
        }
        return name + rest
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw DwcError(error) }
    }

    /// Frames of one target in one batch read. A URL whose object changed (412) is read again —
    /// and indexed again when the index knows it — once; a second change is an error (exit 20).
    private func readFrames(_ numbers: [Int], of target: inout Target, index: ArchiveIndex?, sink: Sink) throws -> [[UInt8]] {
        do {
            return try target.reader.frames(numbers)
        } catch let error as RemoteError where error.kind == .changed && target.isRemote && !target.retried {
            sink.warning("\(target.name): changed since it was read or indexed; reading it again")
            var fresh = try reopen(url: target.name, index: index, sink: sink)
            fresh.retried = true
            target = fresh
            return try wrap { try target.reader.frames(numbers) }
        } catch {
            throw DwcError(error)
        }
    }

    /// Indexes a changed object again (when the index has it) and opens it from the new row, or
    /// reads its header again.
    private func reopen(url: String, index: ArchiveIndex?, sink: Sink) throws -> Target {
        if let index, try wrap({ try index.instance(storedPath: url) }) != nil {
            let indexer = RemoteIndexer(options: DicomFileLoader(stopBeforePixels: true).options)
            let result = indexer.examine(RemoteIndexer.Item(url: url, listed: nil), known: nil)
            if let message = result.message {
                if result.isProblem { throw DwcError(.cannotReadInput, message) }
                sink.warning(message)
            }
            if let file = result.file {
                // A read-only index records through its own writable connection.
                _ = try wrap { try index.record([file]) { RemoteAccess.isRemote($0) || statFile(location.absolute($0)) != nil } }
            }
            let stored = try wrap { try index.instance(storedPath: url) }
            return try remoteTarget(url: url, stored: stored, sink: sink)
        }
        return try remoteTarget(url: url, stored: nil, sink: sink)
    }

    /// A URL: from the index's row (size, ETag, frame table: no request until the frames), else
    /// from its header (a first GET) and its frame table (offset tables, or one streaming GET).
    private func remoteTarget(url: String, stored: StoredInstance?, sink: Sink) throws -> Target {
        if let stored, let etag = stored.stamp.etag, stored.stamp.size > 0, let layout = Self.layout(from: stored) {
            let source = try RemoteAccess.source(url, knownSize: UInt64(stored.stamp.size), etag: etag)
            return Target(name: url, path: url, parsed: nil, sopUID: stored.sopUID, seriesUID: stored.seriesUID, studyUID: stored.studyUID,
                          transferSyntax: stored.transferSyntax, reader: FrameReader(source: source, layout: layout), isRemote: true)
        }
        let file = try DicomFileLoader(stopBeforePixels: true).load(url)
        var spans: [FrameSpan]?
        if let remote = file.source as? RemoteByteSource {
            spans = try wrap { try RemoteAccess.frameSpans(of: file, source: remote) }
        }
        var target = try target(parsed: file, name: url, cached: spans, sink: sink)
        target.path = url
        target.isRemote = true
        return target
    }

    private func openIndexIfPresent() throws -> ArchiveIndex? {
        guard statFile(location.indexPath) != nil else { return nil }
        return try wrap { try ArchiveIndex(path: location.indexPath, create: false) }
    }

    /// A path, a SOP Instance UID (through the index) or "-".
    private func target(for input: String, index: ArchiveIndex?, sink: Sink) throws -> Target {
        if RemoteAccess.isRemote(input) {
            return try remoteTarget(url: input, stored: try index.flatMap { index in try wrap { try index.instance(storedPath: input) } }, sink: sink)
        }
        if input == "-" {
            let file = try DicomFileLoader(stopBeforePixels: true).load(input)
            return try target(parsed: file, name: "<stdin>", cached: nil, sink: sink)
        }
        if let found = statFile(input) {
            let absolute = absolutePath(input)
            if let index, let stored = try wrap({ try index.instance(storedPath: location.storedPath(forAbsolute: absolute)) }) {
                return try target(for: stored, index: index, sink: sink, known: found)
            }
            let file = try DicomFileLoader(stopBeforePixels: true).load(input)
            return try target(parsed: file, name: input, cached: nil, sink: sink)
        }
        if UIDRegistry.isValid(input) || input.allSatisfy({ $0.isNumber || $0 == "." }) {
            guard let index else { throw DwcError(.noInput, "\(input): not a file, and there is no index to look the UID up in (\(location.indexPath))") }
            guard let stored = try wrap({ try index.instance(sopUID: input) }) else {
                throw DwcError(.noInput, "\(input): no such SOP Instance UID in \(location.indexPath)")
            }
            return try target(for: stored, index: index, sink: sink)
        }
        throw DwcError(.noInput, "\(input): no such file")
    }

    /// An indexed instance: its frames come from the index when the file is unchanged.
    private func target(for stored: StoredInstance, index: ArchiveIndex, sink: Sink, known: FoundFile? = nil) throws -> Target {
        if RemoteAccess.isRemote(stored.path) { return try remoteTarget(url: stored.path, stored: stored, sink: sink) }
        let path = location.absolute(stored.path)
        guard let current = known ?? statFile(path) else {
            throw DwcError(.noInput, "\(path): indexed file is gone (run dwc index)")
        }
        let unchanged = current.size == stored.stamp.size && current.mtimeNanoseconds == stored.stamp.mtimeNanoseconds
            && current.inode == stored.stamp.inode
        if unchanged, let layout = Self.layout(from: stored) {
            let source = try wrap { try FileByteSource(path: path) }
            return Target(name: path, path: path, parsed: nil, sopUID: stored.sopUID, seriesUID: stored.seriesUID, studyUID: stored.studyUID,
                          transferSyntax: stored.transferSyntax, reader: FrameReader(source: source, layout: layout))
        }
        let file = try DicomFileLoader(stopBeforePixels: true).load(path)
        let target = try self.target(parsed: file, name: path, cached: nil, sink: sink)
        if unchanged, let spans = target.reader.layout.spans {
            // Keep the table, so the next retrieval of any frame of this file reads nothing else.
            try? index.storeFrameTable(FrameSpan.pack(spans), sopUID: stored.sopUID, stamp: stored.stamp)
        }
        return target
    }

    private func target(parsed file: DicomFile, name: String, cached: [FrameSpan]?, sink: Sink) throws -> Target {
        let layout = try wrap { try FrameLocator.layout(of: file, cached: cached) }
        for warning in layout.warnings { sink.warning("\(name): \(warning)") }
        let ds = file.dataSet
        return Target(name: name, path: nil, parsed: file, sopUID: ds.string(.sopInstanceUID) ?? "unknown", seriesUID: ds.string(.seriesInstanceUID) ?? "unknown",
                      studyUID: ds.string(.studyInstanceUID) ?? "unknown", transferSyntax: file.transferSyntax.uid,
                      reader: FrameReader(source: file.source, layout: layout))
    }

    /// The layout from the index alone: native frames by arithmetic, encapsulated ones from the
    /// kept table. Nil when the index lacks what is needed.
    static func layout(from stored: StoredInstance) -> FrameLayout? {
        guard let offset = stored.pixelOffset else { return nil }
        let frames = max(1, stored.numberOfFrames ?? 1)
        if stored.pixelEncapsulated {
            guard let table = stored.frameTable else { return nil }
            let spans = FrameSpan.unpack(table)
            guard spans.count == frames else { return nil }
            let location = PixelDataLocation(elementOffset: 0, valueOffset: offset, length: nil, basicOffsetTable: [], firstFragmentOffset: nil)
            return FrameLayout(location: location, frameCount: frames, encoding: .encapsulated(spans: spans), origin: "index")
        }
        guard let length = stored.pixelLength, let rows = stored.rows, let columns = stored.columns,
              let bits = stored.bitsAllocated, rows > 0, columns > 0, [1, 8, 16, 32, 64].contains(bits) else { return nil }
        var samples = max(1, stored.samplesPerPixel ?? 1)
        if stored.photometric == "YBR_FULL_422", samples == 3 { samples = 2 }  // as FrameLocator does
        let frameBits = UInt64(rows) * UInt64(columns) * UInt64(samples) * UInt64(bits)
        let available = Int(min(UInt64(frames), length * 8 / frameBits))
        let location = PixelDataLocation(elementOffset: 0, valueOffset: offset, length: length, basicOffsetTable: [], firstFragmentOffset: nil)
        let bigEndian = TransferSyntax(uid: stored.transferSyntax).isBigEndian
        if bigEndian, bits == 8 { return nil }  // may be OW words to swap: the header says (FrameReader)
        return FrameLayout(location: location, frameCount: available,
                           encoding: .native(frameBits: frameBits, bigEndian: bigEndian, bitsAllocated: bits), origin: "index")
    }
}

/// File extensions and media types of frames by transfer syntax (PS3.18 Table 8.7.3-2 and 8.7.4-1).
public enum MediaTypes {
    public static func fileExtension(transferSyntax uid: String) -> String {
        switch uid {
        case "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70": return "jpg"
        case "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81": return "jls"
        case "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93": return "j2k"
        case "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203": return "jhc"
        case "1.2.840.10008.1.2.5": return "rle"
        case "1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101": return "mpg"
        case "1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.103", "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105",
             "1.2.840.10008.1.2.4.106": return "mp4"
        default: return TransferSyntax(uid: uid).isEncapsulated ? "bin" : "raw"
        }
    }

    public static func frameContentType(transferSyntax uid: String) -> String {
        let type: String
        switch fileExtension(transferSyntax: uid) {
        case "jpg": type = "image/jpeg"
        case "jls": type = "image/jls"
        case "j2k": type = uid.hasSuffix(".92") || uid.hasSuffix(".93") ? "image/jpx" : "image/jp2"
        case "jhc": type = "image/jphc"
        case "rle": type = "image/dicom-rle"
        case "mpg": type = "video/mpeg"
        case "mp4": type = "video/mp4"
        default: return "application/octet-stream; transfer-syntax=\(TransferSyntax(uid: uid).isEncapsulated ? uid : "1.2.840.10008.1.2.1")"
        }
        return "\(type); transfer-syntax=\(uid)"
    }
}

func jsonString(_ s: String) -> String {
    var writer = JSONWriter()
    writer.string(s)
    return writer.string
}
