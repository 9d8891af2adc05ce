import DicomCodecs
import DicomCore
import DicomParser
#if canImport(Glibc)
import Glibc
#endif

/// A VOI window (PS3.3 C.11.2.1.2): centre, width and the VOI LUT Function that maps values
/// through it.
public struct VOIWindow: Sendable, Equatable, CustomStringConvertible {
    public enum Function: String, Sendable, CaseIterable {
        case linear = "LINEAR"
        case linearExact = "LINEAR_EXACT"
        case sigmoid = "SIGMOID"
    }

    public var center: Double
    public var width: Double
    public var function: Function
    public var explanation: String?

    public init(center: Double, width: Double, function: Function = .linear, explanation: String? = nil) {
        self.center = center
        self.width = width
        self.function = function
        self.explanation = explanation
    }

    /// `C,W` or `C,W,FUNCTION` as given to `--window` (e.g. `-600,1600` or `40,400,SIGMOID`).
    public init(parsing text: String) throws {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " ") }
        guard parts.count == 2 || parts.count == 3, let c = Double(parts[0]), let w = Double(parts[1]), c.isFinite, w.isFinite else {
            throw DwcError(.syntax, "--window '\(text)': expected CENTER,WIDTH[,LINEAR|LINEAR_EXACT|SIGMOID], e.g. -600,1600")
        }
        var function = Function.linear
        if parts.count == 3 {
            guard let f = Function(rawValue: parts[2].uppercased()) else {
                throw DwcError(.syntax, "--window '\(text)': unknown function '\(parts[2])' (LINEAR, LINEAR_EXACT or SIGMOID)")
            }
            function = f
        }
        self.init(center: c, width: w, function: function)
        guard isValid else {
            throw DwcError(.syntax, "--window '\(text)': width must be \(function == .linear ? "at least 1" : "greater than 0")")
        }
    }

    /// LINEAR needs a width of at least 1, the others a positive width (PS3.3 C.11.2.1.2).
    public var isValid: Bool { function == .linear ? width >= 1 : width > 0 }

    /// Maps a modality output value to 0...ymax (PS3.3 C.11.2.1.2.1 LINEAR, C.11.2.1.3.2
    /// LINEAR_EXACT, C.11.2.1.3.1 SIGMOID).
    @inline(__always)
    public func apply(_ x: Double, outputMaximum ymax: Double) -> Double {
        switch function {
        case .linear:
            let c = center - 0.5, w = width - 1
            if x <= c - w / 2 { return 0 }
            if x > c + w / 2 { return ymax }
            return ((x - c) / w + 0.5) * ymax
        case .linearExact:
            if x <= center - width / 2 { return 0 }
            if x > center + width / 2 { return ymax }
            return ((x - center) / width + 0.5) * ymax
        case .sigmoid:
            return ymax / (1 + exp(-4 * (x - center) / width))
        }
    }

    public var description: String { "C \(formatNumber(center)), W \(formatNumber(width)), \(function.rawValue)" }
}

/// The grayscale transforms of one frame: the Modality LUT stage and the VOI candidates the
/// file offers (from the Pixel Value Transformation and Frame VOI LUT functional groups of an
/// enhanced multi-frame image, else the top-level modules).
public struct FrameTransforms: Sendable, Equatable {
    public enum Modality: Sendable, Equatable {
        case identity
        case rescale(slope: Double, intercept: Double)
        case lut(RenderLUT)
    }

    public var modality: Modality = .identity
    public var windows: [VOIWindow] = []
    public var voiLUTs: [RenderLUT] = []
    /// Where the transforms came from: "image" or "functional groups".
    public var origin = "image"
}

/// What `dwc render` needs to know about an image besides its frames: the pixel description,
/// the palette, the presentation shape, and each frame's transforms.
public struct RenderAttributes: Sendable {
    public let description: PixelDescription
    public let palette: PaletteLUT?
    /// (2050,0020) IDENTITY or INVERSE, when present.
    public let presentationLUTShape: String?
    let file: DicomFile
    let topLevel: FrameTransforms
    let shared: DataSet?
    let perFrame: [DataSet]

    /// - Throws: `DwcError` 83 when the pixel description or a LUT is unusable.
    public init(file: DicomFile) throws {
        self.file = file
        let ds = file.dataSet
        do {
            description = try PixelDescription(dataSet: ds, transferSyntaxUID: file.transferSyntax.uid)
        } catch {
            throw DwcError(codec: error, context: file.source.name)
        }
        let load: ValueLoader = { try file.valueBytes($0) }
        presentationLUTShape = ds.string(RenderTags.presentationLUTShape)?.trimmingCharacters(in: " ").uppercased()
        palette = description.photometricInterpretation == "PALETTE COLOR" ? try PaletteLUT.read(ds, load: load) : nil
        shared = ds[RenderTags.sharedFunctionalGroups]?.items?.first
        perFrame = ds[RenderTags.perFrameFunctionalGroups]?.items ?? []
        topLevel = try Self.transforms(in: ds, signed: description.isSigned, load: load)
    }

    public var isGrayscale: Bool { description.samplesPerPixel == 1 && description.photometricInterpretation.hasPrefix("MONOCHROME") }

    /// The transforms of frame `number` (1-based): functional groups (per-frame first, then
    /// shared) override the top-level modules macro by macro.
    public func transforms(frame number: Int) throws -> FrameTransforms {
        guard shared != nil || !perFrame.isEmpty else { return topLevel }
        let load: ValueLoader = { try file.valueBytes($0) }
        let item = number >= 1 && number <= perFrame.count ? perFrame[number - 1] : nil
        func macro(_ tag: Tag) -> DataSet? {
            item?[tag]?.items?.first ?? shared?[tag]?.items?.first
        }
        var result = topLevel
        if let pixelValue = macro(RenderTags.pixelValueTransformationSequence) {
            let group = try Self.transforms(in: pixelValue, signed: description.isSigned, load: load)
            if group.modality != .identity || pixelValue[RenderTags.rescaleSlope] != nil {
                result.modality = group.modality
                result.origin = "functional groups"
            }
        }
        if let voi = macro(RenderTags.frameVOILUTSequence) {
            let group = try Self.transforms(in: voi, signed: Self.modalityCanBeNegative(result.modality, signed: description.isSigned), load: load)
            if !group.windows.isEmpty || !group.voiLUTs.isEmpty {
                result.windows = group.windows
                result.voiLUTs = group.voiLUTs
                result.origin = "functional groups"
            }
        }
        return result
    }

    /// The Modality LUT and VOI LUT modules of one data set (the top level or a functional
    /// group item).
    static func transforms(in ds: DataSet, signed: Bool, load: ValueLoader) throws -> FrameTransforms {
        var t = FrameTransforms()
        if let item = ds[RenderTags.modalityLUTSequence]?.items?.first {
            t.modality = .lut(try RenderLUT.item(item, signedInput: signed, load: load))
        } else if ds[RenderTags.rescaleSlope] != nil || ds[RenderTags.rescaleIntercept] != nil {
            let slope = ds.double(RenderTags.rescaleSlope) ?? 1
            let intercept = ds.double(RenderTags.rescaleIntercept) ?? 0
            if slope.isFinite, intercept.isFinite, slope != 0, slope != 1 || intercept != 0 {
                t.modality = .rescale(slope: slope, intercept: intercept)
            }
        }
        let centers = ds.doubles(RenderTags.windowCenter) ?? []
        let widths = ds.doubles(RenderTags.windowWidth) ?? []
        let explanations = ds.strings(RenderTags.windowExplanation) ?? []
        let functionText = ds.string(RenderTags.voiLUTFunction)?.trimmingCharacters(in: " ").uppercased() ?? ""
        let function = VOIWindow.Function(rawValue: functionText) ?? .linear
        for i in 0..<min(centers.count, widths.count) where centers[i].isFinite && widths[i].isFinite {
            t.windows.append(VOIWindow(center: centers[i], width: widths[i], function: function,
                                       explanation: i < explanations.count && !explanations[i].isEmpty ? explanations[i] : nil))
        }
        let voiSigned = modalityCanBeNegative(t.modality, signed: signed)
        for item in ds[RenderTags.voiLUTSequence]?.items ?? [] {
            t.voiLUTs.append(try RenderLUT.item(item, signedInput: voiSigned, load: load))
        }
        return t
    }

    static func modalityCanBeNegative(_ modality: FrameTransforms.Modality, signed: Bool) -> Bool {
        switch modality {
        case .identity: return signed
        case .rescale(_, let intercept): return signed || intercept < 0
        case .lut: return false
        }
    }
}

extension DwcError {
    /// Maps a DicomCodecs error (or any error) to dwc's exit statuses: no decoder 82, a frame
    /// or description that cannot be decoded 83, an image that cannot be encoded 85.
    init(codec error: any Error, context: String? = nil) {
        let prefix = context.map { "\($0): " } ?? ""
        switch error {
        case let e as DwcError:
            self = e
        case let e as CodecError:
            switch e {
            case .unsupported: self.init(.unsupportedTransferSyntax, prefix + e.description)
            case .invalidDescription, .corrupt, .libraryError: self.init(.decodeFailed, prefix + e.description)
            case .encodingFailed: self.init(.encodeFailed, prefix + e.description)
            }
        default:
            let mapped = DwcError(error)
            self.init(mapped.status, mapped.message.hasPrefix(prefix) ? mapped.message : prefix + mapped.message)
        }
    }
}

/// A number as short text: integers without a fraction, others as Swift prints them.
func formatNumber(_ value: Double) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
    return String(value)
}
