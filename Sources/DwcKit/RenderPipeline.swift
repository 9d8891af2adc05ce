import DicomCodecs
import DicomCore
#if canImport(Glibc)
import Glibc
#endif

/// How `dwc render` turns samples into display values.
public struct RenderOptions: Sendable, Equatable {
    /// The VOI stage of grayscale images.
    public enum VOI: Sendable, Equatable {
        /// The file's first window, else its first VOI LUT, else min-max.
        case automatic
        /// A window given on the command line.
        case window(VOIWindow)
        /// The file's n-th window (1-based).
        case fileWindow(Int)
        /// The file's n-th VOI LUT (1-based).
        case fileVOILUT(Int)
        /// A window from the frame's smallest and largest modality values.
        case minMax
        /// None: the whole range the modality stage can produce maps to the output range.
        case none
    }

    public var voi: VOI = .automatic
    /// Apply the Modality LUT stage (rescale or Modality LUT Sequence).
    public var modality = true
    /// Invert the output (after MONOCHROME1 and Presentation LUT Shape).
    public var changePolarity = false
    /// 8 or 16 bits per output sample.
    public var outputBits = 8

    public init() {}
}

/// One rendered frame and what was done to get it.
public struct RenderedFrame: Sendable {
    public var image: RasterImage
    /// The VOI stage used, for messages and `--info` ("window 1 (C 40, W 400, LINEAR)", ...).
    public var voi: String
    /// Smallest and largest stored sample value of the frame.
    public var storedRange: ClosedRange<Int>
    /// Smallest and largest value after the modality stage (grayscale images).
    public var modalityRange: ClosedRange<Double>?
    public var inverted: Bool
}

/// The rendering pipeline of one decoded frame: grayscale (Modality LUT → VOI → presentation)
/// or colour (RGB, YBR, PALETTE COLOR) to 8- or 16-bit gray or RGB samples.
public enum FrameRenderer {
    public static func render(_ frame: DecodedFrame, attributes: RenderAttributes, frameNumber: Int,
                              options: RenderOptions) throws -> RenderedFrame {
        guard frame.rows > 0, frame.columns > 0, frame.samples.count >= frame.sampleCount * frame.bytesPerSample else {
            throw DwcError(.decodeFailed, "decoded frame \(frameNumber) has \(frame.samples.count) bytes for \(frame.rows)×\(frame.columns)×\(frame.samplesPerPixel) samples")
        }
        let photometric = frame.photometricInterpretation
        if frame.samplesPerPixel == 1 && photometric.hasPrefix("MONOCHROME") {
            return try renderGrayscale(frame, transforms: try attributes.transforms(frame: frameNumber),
                                       bitsStored: attributes.description.bitsStored,
                                       monochrome1: photometric == "MONOCHROME1",
                                       presentationShape: attributes.presentationLUTShape, options: options)
        }
        if frame.samplesPerPixel == 1 && photometric == "PALETTE COLOR" {
            guard let palette = attributes.palette else {
                throw DwcError(.decodeFailed, "PALETTE COLOR image without palette tables")
            }
            return renderPalette(frame, palette: palette, options: options)
        }
        if frame.samplesPerPixel == 3 {
            return try renderColour(frame, options: options)
        }
        throw DwcError(.decodeFailed, "cannot render \(frame.samplesPerPixel) samples per pixel with Photometric Interpretation \(photometric)")
    }

    // MARK: Grayscale

    static func storedRange(_ frame: DecodedFrame) -> ClosedRange<Int> {
        var lo = Int.max, hi = Int.min
        frame.samples.withUnsafeBytes { raw in
            func scan<T: FixedWidthInteger>(_ type: T.Type) {
                let p = raw.bindMemory(to: T.self)
                var a = T.max, b = T.min
                for i in 0..<frame.sampleCount {
                    let v = T(littleEndian: p[i])
                    if v < a { a = v }
                    if v > b { b = v }
                }
                lo = Int(a); hi = Int(b)
            }
            switch (frame.bytesPerSample, frame.isSigned) {
            case (1, false): scan(UInt8.self)
            case (1, true): scan(Int8.self)
            case (2, false): scan(UInt16.self)
            case (2, true): scan(Int16.self)
            case (_, false): scan(UInt32.self)
            case (_, true): scan(Int32.self)
            }
        }
        return lo...hi
    }

    /// Applies `table[v - base]` (or `direct(v)` when there is no table) to every sample,
    /// writing 8- or 16-bit little-endian output.
    static func map(_ frame: DecodedFrame, outputBits: Int, base: Int, table: [UInt16]?, direct: (Int) -> UInt16) -> [UInt8] {
        let count = frame.sampleCount
        var out = [UInt8](repeating: 0, count: count * (outputBits == 16 ? 2 : 1))
        frame.samples.withUnsafeBytes { raw in
            out.withUnsafeMutableBytes { dst in
                func run<T: FixedWidthInteger>(_ type: T.Type) {
                    let p = raw.bindMemory(to: T.self)
                    if let table {
                        table.withUnsafeBufferPointer { t in
                            if outputBits == 16 {
                                let q = dst.bindMemory(to: UInt16.self)
                                for i in 0..<count { q[i] = t[Int(T(littleEndian: p[i])) - base].littleEndian }
                            } else {
                                let q = dst.bindMemory(to: UInt8.self)
                                for i in 0..<count { q[i] = UInt8(truncatingIfNeeded: t[Int(T(littleEndian: p[i])) - base]) }
                            }
                        }
                    } else if outputBits == 16 {
                        let q = dst.bindMemory(to: UInt16.self)
                        for i in 0..<count { q[i] = direct(Int(T(littleEndian: p[i]))).littleEndian }
                    } else {
                        let q = dst.bindMemory(to: UInt8.self)
                        for i in 0..<count { q[i] = UInt8(truncatingIfNeeded: direct(Int(T(littleEndian: p[i])))) }
                    }
                }
                switch (frame.bytesPerSample, frame.isSigned) {
                case (1, false): run(UInt8.self)
                case (1, true): run(Int8.self)
                case (2, false): run(UInt16.self)
                case (2, true): run(Int16.self)
                case (_, false): run(UInt32.self)
                case (_, true): run(Int32.self)
                }
            }
        }
        return out
    }

    /// Tables up to this many entries are built per frame; wider 32-bit ranges are mapped per pixel.
    static let maximumTable = 1 << 20

    static func renderGrayscale(_ frame: DecodedFrame, transforms: FrameTransforms, bitsStored: Int, monochrome1: Bool,
                                presentationShape: String?, options: RenderOptions) throws -> RenderedFrame {
        let ymax = options.outputBits == 16 ? 65535.0 : 255.0
        let stored = storedRange(frame)
        let modality = options.modality ? transforms.modality : .identity
        let modalityValue: (Int) -> Double
        switch modality {
        case .identity: modalityValue = { Double($0) }
        case .rescale(let slope, let intercept): modalityValue = { Double($0) * slope + intercept }
        case .lut(let lut): modalityValue = { Double(lut.lookup($0)) }
        }
        let span = stored.upperBound - stored.lowerBound + 1
        let useTable = span <= maximumTable

        // Smallest and largest modality value present in the frame.
        var mLow = Double.infinity, mHigh = -Double.infinity
        switch modality {
        case .identity, .rescale:
            let a = modalityValue(stored.lowerBound), b = modalityValue(stored.upperBound)
            mLow = min(a, b); mHigh = max(a, b)
        case .lut(let lut):
            if useTable {
                var present = [Bool](repeating: false, count: span)
                let base = stored.lowerBound
                _ = map(frame, outputBits: 8, base: 0, table: nil) { v in present[v - base] = true; return 0 }
                for (i, seen) in present.enumerated() where seen {
                    let m = Double(lut.lookup(base + i))
                    mLow = min(mLow, m); mHigh = max(mHigh, m)
                }
            } else {
                mLow = Double(lut.entries.min() ?? 0); mHigh = Double(lut.entries.max() ?? 0)
            }
        }

        // The VOI stage.
        enum Stage { case window(VOIWindow), lut(RenderLUT), linear(Double, Double) }
        var stage: Stage
        var voiText: String
        func fileWindow(_ n: Int) throws -> VOIWindow {
            guard n >= 1, n <= transforms.windows.count else {
                throw DwcError(.syntax, "--use-window \(n): the image has \(transforms.windows.count) window\(transforms.windows.count == 1 ? "" : "s")")
            }
            let w = transforms.windows[n - 1]
            guard w.isValid else { throw DwcError(.decodeFailed, "window \(n) (\(w)) has an invalid width") }
            return w
        }
        func fileLUT(_ n: Int) throws -> RenderLUT {
            guard n >= 1, n <= transforms.voiLUTs.count else {
                throw DwcError(.syntax, "--use-voi-lut \(n): the image has \(transforms.voiLUTs.count) VOI LUT\(transforms.voiLUTs.count == 1 ? "" : "s")")
            }
            return transforms.voiLUTs[n - 1]
        }
        func minMax() -> (Stage, String) {
            let c = (mLow + mHigh + 1) / 2, w = mHigh - mLow + 1
            return (.linear(mLow, mHigh), "min-max window (C \(formatNumber(c)), W \(formatNumber(w)))")
        }
        switch options.voi {
        case .automatic:
            if let (i, w) = transforms.windows.enumerated().first(where: { $0.element.isValid }) {
                stage = .window(w); voiText = "window \(i + 1) (\(w))"
            } else if let lut = transforms.voiLUTs.first {
                stage = .lut(lut); voiText = "VOI LUT 1"
            } else {
                (stage, voiText) = minMax()
            }
        case .window(let w):
            stage = .window(w); voiText = "window (\(w))"
        case .fileWindow(let n):
            let w = try fileWindow(n)
            stage = .window(w); voiText = "window \(n) (\(w))"
        case .fileVOILUT(let n):
            stage = .lut(try fileLUT(n)); voiText = "VOI LUT \(n)"
        case .minMax:
            (stage, voiText) = minMax()
        case .none:
            // The range the modality stage can produce from any value of Bits Stored bits (the
            // data set's, not a codestream's precision), widened to the values present.
            let bits = max(1, min(32, bitsStored))
            let lowest = min(stored.lowerBound, frame.isSigned ? -(1 << (bits - 1)) : 0)
            let highest = max(stored.upperBound, frame.isSigned ? (1 << (bits - 1)) - 1 : (1 << bits) - 1)
            var a: Double, b: Double
            switch modality {
            case .identity, .rescale:
                let x = modalityValue(lowest), y = modalityValue(highest)
                a = min(x, y); b = max(x, y)
            case .lut(let lut):
                a = 0; b = Double(lut.maximumOutput)
            }
            stage = .linear(a, b); voiText = "none (range \(formatNumber(a)) to \(formatNumber(b)))"
        }

        // Presentation: a Presentation LUT Shape decides when present (IDENTITY: as is, INVERSE:
        // inverted, PS3.3 C.11.6.1.2); without one MONOCHROME1 shows inverted.
        var invert: Bool
        switch presentationShape {
        case "INVERSE": invert = true
        case "IDENTITY": invert = false
        default: invert = monochrome1
        }
        if options.changePolarity { invert.toggle() }

        let value: (Int) -> UInt16 = { v in
            let m = modalityValue(v)
            var y: Double
            switch stage {
            case .window(let w):
                y = w.apply(m, outputMaximum: ymax)
            case .lut(let lut):
                let e = lut.lookup(Int(m.rounded(.down)))
                y = Double(e) / Double(lut.maximumOutput) * ymax
            case .linear(let a, let b):
                y = b > a ? (m - a) / (b - a) * ymax : 0
            }
            if invert { y = ymax - y }
            y = (y + 0.5).rounded(.down)
            return UInt16(max(0, min(ymax, y)))
        }
        var table: [UInt16]?
        if useTable {
            var t = [UInt16](repeating: 0, count: span)
            for i in 0..<span { t[i] = value(stored.lowerBound + i) }
            table = t
        }
        let samples = map(frame, outputBits: options.outputBits, base: stored.lowerBound, table: table, direct: value)
        let image = try RasterImage(width: frame.columns, height: frame.rows, channels: 1, bitDepth: options.outputBits, samples: samples)
        return RenderedFrame(image: image, voi: voiText, storedRange: stored,
                             modalityRange: mLow <= mHigh ? mLow...mHigh : nil, inverted: invert)
    }

    // MARK: Colour

    static func renderPalette(_ frame: DecodedFrame, palette: PaletteLUT, options: RenderOptions) -> RenderedFrame {
        let stored = storedRange(frame)
        let ymax = options.outputBits == 16 ? 65535.0 : 255.0
        let invert = options.changePolarity
        func scaled(_ lut: RenderLUT, _ v: Int) -> UInt16 {
            var y = (Double(lut.lookup(v)) / Double(lut.maximumOutput) * ymax + 0.5).rounded(.down)
            y = max(0, min(ymax, y))
            return UInt16(invert ? ymax - y : y)
        }
        let span = stored.upperBound - stored.lowerBound + 1
        let base = stored.lowerBound
        var tables: [[UInt16]] = [[], [], []]
        for (c, lut) in [palette.red, palette.green, palette.blue].enumerated() {
            tables[c] = (0..<span).map { scaled(lut, base + $0) }
        }
        let pixels = frame.rows * frame.columns
        let wide = options.outputBits == 16
        var out = [UInt8](repeating: 0, count: pixels * 3 * (wide ? 2 : 1))
        let values = frame.values()
        for i in 0..<pixels {
            let k = values[i] - base
            for c in 0..<3 {
                let y = tables[c][k]
                if wide {
                    out[(i * 3 + c) * 2] = UInt8(truncatingIfNeeded: y)
                    out[(i * 3 + c) * 2 + 1] = UInt8(truncatingIfNeeded: y >> 8)
                } else {
                    out[i * 3 + c] = UInt8(truncatingIfNeeded: y)
                }
            }
        }
        // The sizes were checked against the frame: this cannot fail.
        let image = try! RasterImage(width: frame.columns, height: frame.rows, channels: 3, bitDepth: options.outputBits, samples: out)
        return RenderedFrame(image: image, voi: "palette (\(palette.segmented ? "segmented, " : "")\(palette.red.entries.count) entries of \(palette.red.bits) bits)",
                             storedRange: stored, modalityRange: nil, inverted: invert)
    }

    static func renderColour(_ frame: DecodedFrame, options: RenderOptions) throws -> RenderedFrame {
        let stored = storedRange(frame)
        let photometric = frame.photometricInterpretation
        let bits = min(frame.bitsStored, 32)
        let inMax = bits >= 32 ? Double(UInt32.max) : Double((1 << bits) - 1)
        let ymax = options.outputBits == 16 ? 65535.0 : 255.0
        let invert = options.changePolarity
        let pixels = frame.rows * frame.columns
        let wide = options.outputBits == 16
        var out = [UInt8](repeating: 0, count: pixels * 3 * (wide ? 2 : 1))

        enum Conversion { case none, full, partial }
        let conversion: Conversion
        switch photometric {
        case "RGB", "YBR_RCT", "YBR_ICT": conversion = .none  // decoders deliver RGB for ICT/RCT
        case "YBR_FULL", "YBR_FULL_422": conversion = .full
        case "YBR_PARTIAL_422", "YBR_PARTIAL_420": conversion = .partial
        default:
            throw DwcError(.decodeFailed, "cannot render 3 samples per pixel with Photometric Interpretation \(photometric)")
        }

        // Fast path: 8-bit RGB to 8-bit output is a copy.
        if conversion == .none, frame.bytesPerSample == 1, bits == 8, !wide, !frame.isSigned {
            var samples = Array(frame.samples[0..<(pixels * 3)])
            if invert { for i in 0..<samples.count { samples[i] = 255 - samples[i] } }
            let image = try RasterImage(width: frame.columns, height: frame.rows, channels: 3, bitDepth: 8, samples: samples)
            return RenderedFrame(image: image, voi: "none (colour)", storedRange: stored, modalityRange: nil, inverted: invert)
        }

        let values = frame.values()
        let half = Double(1 << (bits - 1))
        let scale = ymax / inMax
        let footroom = 16 * Double(1 << max(0, bits - 8))
        @inline(__always) func put(_ i: Int, _ v: Double) {
            var y = (max(0, min(inMax, v)) * scale + 0.5).rounded(.down)
            y = min(ymax, y)
            if invert { y = ymax - y }
            let u = UInt16(y)
            if wide {
                out[2 * i] = UInt8(truncatingIfNeeded: u)
                out[2 * i + 1] = UInt8(truncatingIfNeeded: u >> 8)
            } else {
                out[i] = UInt8(truncatingIfNeeded: u)
            }
        }
        for p in 0..<pixels {
            let a = Double(values[3 * p]), b = Double(values[3 * p + 1]), c = Double(values[3 * p + 2])
            switch conversion {
            case .none:
                put(3 * p, a); put(3 * p + 1, b); put(3 * p + 2, c)
            case .full:
                // PS3.3 C.7.6.3.1.2.
                let cb = b - half, cr = c - half
                put(3 * p, a + 1.402 * cr)
                put(3 * p + 1, a - 0.344136 * cb - 0.714136 * cr)
                put(3 * p + 2, a + 1.772 * cb)
            case .partial:
                let y = 1.164383 * (a - footroom), cb = b - half, cr = c - half
                put(3 * p, y + 1.596027 * cr)
                put(3 * p + 1, y - 0.391762 * cb - 0.812968 * cr)
                put(3 * p + 2, y + 2.017232 * cb)
            }
        }
        let image = try RasterImage(width: frame.columns, height: frame.rows, channels: 3, bitDepth: options.outputBits, samples: out)
        let what = conversion == .none ? "none (colour)" : "none (colour, \(photometric) → RGB)"
        return RenderedFrame(image: image, voi: what, storedRange: stored, modalityRange: nil, inverted: invert)
    }
}
