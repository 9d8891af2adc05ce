import DicomCodecs

/// The output size asked for with `--size WxH` or `--scale F`; the aspect ratio is kept.
public enum RenderSize: Sendable, Equatable {
    /// Fit inside width × height (either may be nil: only the other one constrains).
    case fit(width: Int?, height: Int?)
    /// Multiply both dimensions.
    case scale(Double)

    /// `WxH`, `Wx` (width only), `xH` (height only) or `W` (a W×W box).
    public init(parsingSize text: String) throws {
        let bad = DwcError(.syntax, "--size '\(text)': expected WIDTHxHEIGHT (e.g. 256x256, 256x or x256)")
        let lower = text.lowercased()
        let parts = lower.split(separator: "x", maxSplits: 1, omittingEmptySubsequences: false)
        func number(_ s: Substring) throws -> Int? {
            if s.isEmpty { return nil }
            guard let n = Int(s), n >= 1, n <= 65535 else { throw bad }
            return n
        }
        if parts.count == 1 {
            guard let n = try number(parts[0]) else { throw bad }
            self = .fit(width: n, height: n)
            return
        }
        let w = try number(parts[0]), h = try number(parts[1])
        guard w != nil || h != nil else { throw bad }
        self = .fit(width: w, height: h)
    }

    public init(parsingScale text: String) throws {
        guard let f = Double(text), f.isFinite, f > 0 else {
            throw DwcError(.syntax, "--scale '\(text)': expected a positive factor, e.g. 0.25 or 2")
        }
        self = .scale(f)
    }

    /// The output size for an image of `width` × `height`: the same factor on both axes, each
    /// at least 1 pixel.
    public func target(width: Int, height: Int) throws -> (width: Int, height: Int) {
        let factor: Double
        switch self {
        case .scale(let f):
            factor = f
        case .fit(let w, let h):
            let fx = w.map { Double($0) / Double(width) } ?? .infinity
            let fy = h.map { Double($0) / Double(height) } ?? .infinity
            factor = min(fx, fy)
        }
        let tw = max(1, Int((Double(width) * factor).rounded()))
        let th = max(1, Int((Double(height) * factor).rounded()))
        guard tw <= 65535, th <= 65535 else {
            throw DwcError(.syntax, "the output would be \(tw)×\(th) pixels (at most 65535 on a side)")
        }
        return (tw, th)
    }
}

/// Resizing of rendered images: area averaging along an axis that shrinks (each output pixel the
/// mean of the input area it covers, fractional pixels weighted), bilinear interpolation along
/// an axis that grows (pixel centres aligned). Separable: rows first, then columns.
public enum Resampler {
    /// For each output index: the first input index and the weights of the inputs from there.
    struct Taps {
        var first: [Int] = []
        var weights: [[Float]] = []
    }

    static func taps(from n: Int, to m: Int) -> Taps {
        var taps = Taps()
        taps.first.reserveCapacity(m)
        taps.weights.reserveCapacity(m)
        if m < n {
            let ratio = Double(n) / Double(m)
            for i in 0..<m {
                let s0 = Double(i) * ratio, s1 = Double(i + 1) * ratio
                let j0 = Int(s0.rounded(.down)), j1 = min(n, Int(s1.rounded(.up)))
                var w: [Float] = []
                for j in j0..<j1 {
                    let overlap = min(s1, Double(j + 1)) - max(s0, Double(j))
                    w.append(Float(max(0, overlap) / ratio))
                }
                taps.first.append(j0)
                taps.weights.append(w)
            }
        } else {
            let ratio = Double(n) / Double(m)
            for i in 0..<m {
                let src = max(0, min(Double(n - 1), (Double(i) + 0.5) * ratio - 0.5))
                let j0 = Int(src.rounded(.down))
                let f = Float(src - Double(j0))
                if j0 + 1 < n, f > 0 {
                    taps.first.append(j0)
                    taps.weights.append([1 - f, f])
                } else {
                    taps.first.append(j0)
                    taps.weights.append([1])
                }
            }
        }
        return taps
    }

    public static func resample(_ image: RasterImage, width: Int, height: Int) throws -> RasterImage {
        if width == image.width && height == image.height { return image }
        let channels = image.channels
        let wide = image.bitDepth == 16
        let inW = image.width, inH = image.height
        // Input samples as floats.
        var input = [Float](repeating: 0, count: inW * inH * channels)
        image.samples.withUnsafeBytes { raw in
            if wide {
                let p = raw.bindMemory(to: UInt16.self)
                for i in 0..<input.count { input[i] = Float(UInt16(littleEndian: p[i])) }
            } else {
                for i in 0..<input.count { input[i] = Float(raw[i]) }
            }
        }
        // Rows: inH × width.
        let h = taps(from: inW, to: width)
        var middle = [Float](repeating: 0, count: width * inH * channels)
        input.withUnsafeBufferPointer { src in
            middle.withUnsafeMutableBufferPointer { dst in
                for y in 0..<inH {
                    let rowIn = y * inW * channels, rowOut = y * width * channels
                    for x in 0..<width {
                        let first = h.first[x]
                        let w = h.weights[x]
                        for c in 0..<channels {
                            var sum: Float = 0
                            for k in 0..<w.count { sum += w[k] * src[rowIn + (first + k) * channels + c] }
                            dst[rowOut + x * channels + c] = sum
                        }
                    }
                }
            }
        }
        // Columns: height × width.
        let v = taps(from: inH, to: height)
        let rowLength = width * channels
        var sums = [Float](repeating: 0, count: rowLength)
        var out = [UInt8](repeating: 0, count: width * height * channels * (wide ? 2 : 1))
        let top: Float = wide ? 65535 : 255
        middle.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBytes { raw in
                for y in 0..<height {
                    for i in 0..<rowLength { sums[i] = 0 }
                    let first = v.first[y]
                    for (k, weight) in v.weights[y].enumerated() {
                        let row = (first + k) * rowLength
                        for i in 0..<rowLength { sums[i] += weight * src[row + i] }
                    }
                    let base = y * rowLength
                    if wide {
                        let q = raw.bindMemory(to: UInt16.self)
                        for i in 0..<rowLength { q[base + i] = UInt16(max(0, min(top, sums[i] + 0.5))).littleEndian }
                    } else {
                        let q = raw.bindMemory(to: UInt8.self)
                        for i in 0..<rowLength { q[base + i] = UInt8(max(0, min(top, sums[i] + 0.5))) }
                    }
                }
            }
        }
        do {
            return try RasterImage(width: width, height: height, channels: channels, bitDepth: image.bitDepth, samples: out)
        } catch {
            throw DwcError(codec: error)
        }
    }
}
