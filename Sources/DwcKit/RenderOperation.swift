import DicomCodecs
import DicomCore
import DicomIndex
import DicomParser

/// Image file formats `dwc render` writes.
public enum RenderFormat: String, Sendable, CaseIterable {
    case png, jpeg, pnm

    /// A format name or file extension: png; jpeg, jpg; pnm, pgm, ppm.
    public init?(name: String) {
        switch name.lowercased() {
        case "png": self = .png
        case "jpeg", "jpg": self = .jpeg
        case "pnm", "pgm", "ppm": self = .pnm
        default: return nil
        }
    }

    /// The extension of generated file names.
    public func fileExtension(channels: Int) -> String {
        switch self {
        case .png: return "png"
        case .jpeg: return "jpg"
        case .pnm: return channels == 1 ? "pgm" : "ppm"
        }
    }

    public var mediaType: String {
        switch self {
        case .png: return "image/png"
        case .jpeg: return "image/jpeg"
        case .pnm: return "image/x-portable-anymap"
        }
    }

    /// Encodes a rendered image.
    public func encode(_ image: RasterImage, quality: Int = 90) throws -> [UInt8] {
        do {
            switch self {
            case .png: return try PNGEncoder().encode(image)
            case .jpeg: return try JPEGEncoder(quality: quality).encode(image)
            case .pnm: return PNMEncoder().encode(image)
            }
        } catch {
            throw DwcError(codec: error)
        }
    }
}

/// `dwc render`: frames of DICOM images to PNG, JPEG or PNM through the grayscale or colour
/// pipeline, optionally resized; or `--info`, the image parameters as JSON.
public struct RenderOperation: Sendable {
    public enum Frames: Sendable, Equatable {
        /// Frame 1.
        case first
        /// The listed frames (`--frame N`, `--frames LIST`).
        case selection(FrameSelection)
        /// Every frame.
        case all
    }

    public var location: ArchiveLocation
    /// Paths, SOP Instance UIDs (through the index), or "-" (a Part 10 stream on stdin).
    public var inputs: [String] = []
    /// nil or "-": stdout. Else a file, a directory, or a template with {frame} (and {stem},
    /// {sop}).
    public var output: String?
    /// nil: from the output's extension, else PNG.
    public var format: RenderFormat?
    public var frames: Frames = .first
    public var options = RenderOptions()
    public var quality = 90
    public var size: RenderSize?
    public var info = false

    public init(location: ArchiveLocation) { self.location = location }

    public struct Sink: Sendable {
        public var write: @Sendable ([UInt8]) -> Void
        public var warning: @Sendable (String) -> Void
        public var info: @Sendable (String) -> Void
        public var error: @Sendable (String) -> Void
        public init(write: @escaping @Sendable ([UInt8]) -> Void, warning: @escaping @Sendable (String) -> Void,
                    info: @escaping @Sendable (String) -> Void, error: @escaping @Sendable (String) -> Void) {
            self.write = write
            self.warning = warning
            self.info = info
            self.error = error
        }
    }

    public struct Result: Sendable {
        /// Image files (or stdout images) written.
        public var written = 0
        /// Inputs that failed (each reported through the sink).
        public var failed = 0
        /// The exit status of the first failure.
        public var firstFailure: ExitStatus?
    }

    /// Where images go.
    enum Target: Equatable {
        case standardOutput
        case file(String)
        case directory(String)
        case template(String)
    }

    var target: Target {
        guard let output, output != "-" else { return .standardOutput }
        if output.contains("{frame}") || output.contains("{stem}") || output.contains("{sop}") { return .template(output) }
        if output.hasSuffix("/") || isDirectory(output) {
            var dir = output
            while dir.count > 1, dir.hasSuffix("/") { dir.removeLast() }
            return .directory(dir)
        }
        return .file(output)
    }

    /// The extension of a path's last component ("" when none).
    static func pathExtension(_ path: String) -> String {
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...])
    }

    /// The output format: --format, else the output's extension, else PNG.
    func resolvedFormat() throws -> RenderFormat {
        if let format { return format }
        switch target {
        case .file(let path), .template(let path):
            let ext = Self.pathExtension(path)
            if ext.isEmpty { return .png }
            guard let f = RenderFormat(name: ext) else {
                throw DwcError(.syntax, "\(path): cannot tell the image format from '.\(ext)'; use .png, .jpg, .pnm/.pgm/.ppm or --format")
            }
            return f
        case .standardOutput, .directory:
            return .png
        }
    }

    /// Checks everything that does not need the inputs' contents.
    public func validate() throws {
        guard !inputs.isEmpty else { throw DwcError(.noInput, "nothing to render: give a file, a SOP Instance UID or -") }
        let format = try resolvedFormat()
        if format == .jpeg && options.outputBits == 16 {
            throw DwcError(.syntax, "JPEG output is 8-bit; drop --16bit or write PNG or PNM")
        }
        guard (1...100).contains(quality) else { throw DwcError(.syntax, "--quality \(quality): expected 1...100") }
        if info { return }
        switch target {
        case .standardOutput:
            if inputs.count > 1 { throw DwcError(.syntax, "stdout takes one image; \(inputs.count) inputs given (give OUT as a directory or a {frame} template)") }
        case .file(let path):
            if inputs.count > 1 { throw DwcError(.syntax, "\(path): several inputs need OUT to be a directory or a template with {stem}") }
            let slash = path.lastIndex(of: "/")
            let folder = slash.map { String(path[..<$0]) } ?? "."
            if !folder.isEmpty, !isWritableDirectory(folder) {
                throw DwcError(.badOutputDirectory, "\(folder): not a writable directory")
            }
        case .directory(let dir):
            guard isWritableDirectory(dir) else { throw DwcError(.badOutputDirectory, "\(dir): not a writable directory") }
        case .template(let template):
            if inputs.count > 1, !template.contains("{stem}"), !template.contains("{sop}") {
                throw DwcError(.syntax, "\(template): several inputs need {stem} or {sop} in the template")
            }
        }
    }

    public func run(sink: Sink) throws -> Result {
        try validate()
        var result = Result()
        var infos: [String] = []
        for input in inputs {
            do {
                if info {
                    infos.append(try information(for: input, sink: sink))
                } else {
                    result.written += try render(input, sink: sink)
                }
            } catch {
                let e = DwcError(codec: error)
                if inputs.count == 1 { throw e }
                sink.error(e.message)
                result.failed += 1
                if result.firstFailure == nil { result.firstFailure = e.status }
            }
        }
        if info, !infos.isEmpty {
            let text = infos.count == 1 && inputs.count == 1 ? infos[0] : "[\n" + infos.joined(separator: ",\n") + "\n]"
            sink.write(Array((text + "\n").utf8))
        }
        return result
    }

    // MARK: Inputs

    /// Opens an input: "-", a file (with the index's frame table when the index knows it and
    /// the file is unchanged), or a SOP Instance UID looked up in the index.
    func open(_ input: String, sink: Sink) throws -> (source: RenderSource, stem: String) {
        if input == "-" {
            let source = try RenderSource.open("-")
            for w in source.warnings { sink.warning("<stdin>: \(w)") }
            return (source, source.file.dataSet.string(.sopInstanceUID) ?? "stdin")
        }
        let resolved = try InstanceResolver(location: location).resolve(InstanceSelection(inputs: [input]))
        guard let instance = resolved.first else { throw DwcError(.noInput, "\(input): not found") }
        var spans: [FrameSpan]?
        // A URL's row is checked against the ETag its header GET answers with.
        let isRemote = RemoteAccess.isRemote(instance.path)
        if let stored = instance.stored, instance.unchanged || isRemote, stored.pixelEncapsulated,
           let layout = RetrieveFramesOperation.layout(from: stored) {
            spans = layout.spans
        }
        let isPath = statFile(input) != nil
        let isURL = RemoteAccess.isRemote(input)
        let name = isPath ? input : instance.path
        let source = try RenderSource.open(instance.path, name: name, cachedSpans: spans,
                                           cachedETag: isRemote ? instance.stored?.stamp.etag : nil)
        for w in source.warnings { sink.warning("\(name): \(w)") }
        var stem: String
        if isPath || isURL {
            // A URL's stem is its last path segment (without a presigned URL's query).
            let path = isURL ? String(input.prefix { $0 != "?" }) : input
            stem = path.split(separator: "/").last.map(String.init) ?? input
            let ext = Self.pathExtension(stem)
            if !ext.isEmpty, ext.lowercased() == "dcm" || ext.lowercased() == "dicom" { stem.removeLast(ext.count + 1) }
        } else {
            stem = input
        }
        return (source, stem)
    }

    func frameNumbers(_ source: RenderSource, name: String) throws -> [Int] {
        switch frames {
        case .first:
            return [1]
        case .all:
            return Array(1...max(1, source.frameCount))
        case .selection(let selection):
            return try selection.frames(count: source.frameCount, instance: name)
        }
    }

    // MARK: Rendering

    func render(_ input: String, sink: Sink) throws -> Int {
        let (source, stem) = try open(input, sink: sink)
        let name = source.name
        let numbers = try frameNumbers(source, name: name)
        let format = try resolvedFormat()
        if target == .standardOutput, numbers.count != 1 {
            throw DwcError(.syntax, "stdout takes one image; \(numbers.count) frames selected (give OUT as a directory or a {frame} template)")
        }
        if case .template(let template) = target, numbers.count > 1, !template.contains("{frame}") {
            throw DwcError(.syntax, "\(template): \(numbers.count) frames need {frame} in the template")
        }
        var written = 0
        var seen = Set<String>()
        for number in numbers {
            let decoded = try source.decode(number)
            var rendered = try FrameRenderer.render(decoded, attributes: source.attributes, frameNumber: number, options: options)
            if let size {
                let (w, h) = try size.target(width: rendered.image.width, height: rendered.image.height)
                rendered.image = try Resampler.resample(rendered.image, width: w, height: h)
            }
            let bytes = try format.encode(rendered.image, quality: quality)
            let sop = source.file.dataSet.string(.sopInstanceUID) ?? stem
            switch target {
            case .standardOutput:
                sink.write(bytes)
            case .file(let path):
                let out = numbers.count > 1 ? Self.numbered(path, frame: number, format: format, channels: rendered.image.channels) : path
                try write(bytes, to: out, seen: &seen)
            case .directory(let dir):
                let suffix = numbers.count > 1 ? ".\(number)" : ""
                try write(bytes, to: "\(dir)/\(stem)\(suffix).\(format.fileExtension(channels: rendered.image.channels))", seen: &seen)
            case .template(let template):
                let out = template.replacing("{frame}", with: String(number)).replacing("{stem}", with: stem).replacing("{sop}", with: sop)
                try write(bytes, to: out, seen: &seen)
            }
            sink.info("\(name): frame \(number): \(rendered.image.width)×\(rendered.image.height), VOI \(rendered.voi)\(rendered.inverted ? ", inverted" : "")")
            written += 1
        }
        return written
    }

    /// `out.png` → `out.3.png` (`{stem}.{frame}.{ext}`).
    static func numbered(_ path: String, frame: Int, format: RenderFormat, channels: Int) -> String {
        let ext = pathExtension(path)
        if ext.isEmpty { return "\(path).\(frame).\(format.fileExtension(channels: channels))" }
        return "\(path.dropLast(ext.count + 1)).\(frame).\(ext)"
    }

    func write(_ bytes: [UInt8], to path: String, seen: inout Set<String>) throws {
        guard seen.insert(path).inserted else {
            throw DwcError(.syntax, "\(path): two images would get the same name")
        }
        try writeFile(path, bytes)
    }

    // MARK: --info

    func information(for input: String, sink: Sink) throws -> String {
        let (source, _) = try open(input, sink: sink)
        let numbers = try frameNumbers(source, name: source.name)
        let d = source.description
        let ds = source.file.dataSet
        var json = JSONWriter(pretty: true)
        json.beginObject()
        json.key("input"); json.string(source.name)
        if let sop = ds.string(.sopInstanceUID) { json.key("SOPInstanceUID"); json.string(sop) }
        json.key("transferSyntaxUID"); json.string(source.file.transferSyntax.uid)
        json.key("rows"); json.raw(String(d.rows))
        json.key("columns"); json.raw(String(d.columns))
        json.key("frames"); json.raw(String(d.numberOfFrames))
        if source.frameCount != d.numberOfFrames { json.key("framesPresent"); json.raw(String(source.frameCount)) }
        json.key("samplesPerPixel"); json.raw(String(d.samplesPerPixel))
        json.key("photometricInterpretation"); json.string(d.photometricInterpretation)
        if d.samplesPerPixel > 1 { json.key("planarConfiguration"); json.raw(String(d.planarConfiguration)) }
        json.key("bitsAllocated"); json.raw(String(d.bitsAllocated))
        json.key("bitsStored"); json.raw(String(d.bitsStored))
        json.key("highBit"); json.raw(String(d.highBit))
        json.key("pixelRepresentation"); json.raw(d.isSigned ? "1" : "0")
        let first = numbers.first ?? 1
        let transforms = try source.attributes.transforms(frame: first)
        json.key("frame"); json.raw(String(first))
        if source.attributes.isGrayscale {
            json.key("modality")
            switch transforms.modality {
            case .identity:
                json.null()
            case .rescale(let slope, let intercept):
                json.beginObject()
                json.key("rescaleSlope"); json.double(slope)
                json.key("rescaleIntercept"); json.double(intercept)
                json.endObject()
            case .lut(let lut):
                json.beginObject()
                json.key("lut"); Self.describe(lut, into: &json)
                json.endObject()
            }
            json.key("windows")
            json.beginArray()
            for w in transforms.windows {
                json.beginObject()
                json.key("center"); json.double(w.center)
                json.key("width"); json.double(w.width)
                json.key("function"); json.string(w.function.rawValue)
                if let e = w.explanation { json.key("explanation"); json.string(e) }
                json.endObject()
            }
            json.endArray()
            json.key("voiLUTs")
            json.beginArray()
            for lut in transforms.voiLUTs { Self.describe(lut, into: &json) }
            json.endArray()
            json.key("transformsFrom"); json.string(transforms.origin)
        }
        if let shape = source.attributes.presentationLUTShape { json.key("presentationLUTShape"); json.string(shape) }
        if let palette = source.attributes.palette {
            json.key("palette")
            json.beginObject()
            json.key("entries"); json.raw(String(palette.red.entries.count))
            json.key("firstMapped"); json.raw(String(palette.red.firstMapped))
            json.key("bits"); json.raw(String(palette.red.bits))
            json.key("segmented"); json.raw(palette.segmented ? "true" : "false")
            json.endObject()
        }
        // The selected frames decoded: value ranges and what the VOI stage would do.
        var low = Int.max, high = Int.min
        var mLow = Double.infinity, mHigh = -Double.infinity
        var voi = ""
        for number in numbers {
            let decoded = try source.decode(number)
            let rendered = try FrameRenderer.render(decoded, attributes: source.attributes, frameNumber: number, options: options)
            low = min(low, rendered.storedRange.lowerBound); high = max(high, rendered.storedRange.upperBound)
            if let m = rendered.modalityRange { mLow = min(mLow, m.lowerBound); mHigh = max(mHigh, m.upperBound) }
            if voi.isEmpty { voi = rendered.voi }
        }
        if numbers.count > 1 { json.key("framesMeasured"); json.raw(String(numbers.count)) }
        json.key("min"); json.raw(String(low))
        json.key("max"); json.raw(String(high))
        if mLow <= mHigh {
            json.key("modalityMin"); json.double(mLow)
            json.key("modalityMax"); json.double(mHigh)
        }
        json.key("voi"); json.string(voi)
        json.endObject()
        return json.string
    }

    static func describe(_ lut: RenderLUT, into json: inout JSONWriter) {
        json.beginObject()
        json.key("entries"); json.raw(String(lut.entries.count))
        json.key("firstMapped"); json.raw(String(lut.firstMapped))
        json.key("bits"); json.raw(String(lut.bits))
        if let e = lut.explanation { json.key("explanation"); json.string(e) }
        json.endObject()
    }
}
