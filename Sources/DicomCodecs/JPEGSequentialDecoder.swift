#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sequential DCT JPEG with Huffman coding (T.81 processes 1, 2 and 4: SOF0 and SOF1) at 8 or
/// 12 bits, in Swift. Used for 12-bit JPEG Extended frames, which the libjpeg-turbo 2.1 build
/// here cannot decode (its TurboJPEG API is 8-bit only).
///
/// Dequantisation, a separable floating-point inverse DCT (double precision, rounded to
/// nearest), level shift and clamping as T.81 A.3.1 specifies; chrominance upsampling by
/// replication. No colour conversion: 3-component frames come out in the codestream's colour
/// space (for DICOM, as the Photometric Interpretation says).
enum JPEGSequentialDecoder {
    /// Natural (row-major) index of each zig-zag position.
    static let zigzag: [Int] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
        12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ]

    /// cosines[x * 8 + u] = C(u)/2 · cos((2x+1)uπ/16), C(0) = 1/√2, else 1.
    static let cosines: [Double] = (0..<64).map { i in
        let x = Double(i / 8), u = Double(i % 8)
        let c = u == 0 ? 1.0 / 2.0.squareRoot() : 1.0
        return c / 2 * cos((2 * x + 1) * u * Double.pi / 16)
    }

    struct Geometry {
        var blocksPerLine: Int
        var blocksPerColumn: Int
        var stride: Int { blocksPerLine * 8 }
    }

    /// Decodes to full-resolution, colour-by-pixel samples in `bytesPerSample` containers.
    static func decode(_ frame: [UInt8], description d: PixelDescription) throws -> DecodedFrame {
        var parser = JPEGParser(frame, transferSyntax: d.transferSyntaxUID)
        guard var scan = try parser.nextScan(), let header = parser.frame else {
            throw CodecError.corrupt("JPEG codestream has no scan")
        }
        guard header.process == 0xC0 || header.process == 0xC1 else {
            throw CodecError.unsupported(transferSyntax: d.transferSyntaxUID,
                                        reason: "\(header.precision)-bit JPEG with SOF marker 0xFF\(hex(header.process)) (only sequential Huffman DCT is decoded in Swift)")
        }
        try JPEGFrameCheck.validate(header, against: d)
        guard header.precision == 8 || header.precision == 12 else {
            throw CodecError.corrupt("JPEG DCT precision \(header.precision) (must be 8 or 12)")
        }

        let maxH = header.maxH, maxV = header.maxV
        let mcusPerLine = (header.samplesPerLine + 8 * maxH - 1) / (8 * maxH)
        let mcusPerColumn = (header.lines + 8 * maxV - 1) / (8 * maxV)
        let geometries = header.components.map {
            Geometry(blocksPerLine: mcusPerLine * $0.h, blocksPerColumn: mcusPerColumn * $0.v)
        }
        var planes = geometries.map { [Int32](repeating: 0, count: $0.blocksPerLine * $0.blocksPerColumn * 64) }
        var decoded = [Bool](repeating: false, count: header.components.count)
        let maxValue = Int32((1 << header.precision) - 1)
        let levelShift = Double(1 << (header.precision - 1))

        try frame.withUnsafeBufferPointer { data in
            while true {
                // Ss, Se, Ah, Al must be 0, 63, 0, 0 in a sequential scan; like IJG libjpeg (and
                // dcmtk) other values are ignored: the scan is decoded as sequential.
                let quant: [[Int32]] = try scan.components.map {
                    let q = header.components[$0.componentIndex].quantTable
                    guard let table = parser.quantTables[q] else {
                        throw CodecError.corrupt("JPEG component uses quantisation table \(q), which is not defined")
                    }
                    return table
                }
                let dcList: [HuffmanTable] = try scan.components.map {
                    guard let t = parser.dcTables[$0.dcTable] else { throw CodecError.corrupt("JPEG DC Huffman table \($0.dcTable) is not defined") }
                    return t
                }
                let acList: [HuffmanTable] = try scan.components.map {
                    guard let t = parser.acTables[$0.acTable] else { throw CodecError.corrupt("JPEG AC Huffman table \($0.acTable) is not defined") }
                    return t
                }
                try HuffmanSet(dcList).withViews { dcTables in
                    try HuffmanSet(acList).withViews { acTables in
                        var reader = JPEGBitReader(data: data, position: parser.position)
                        var predictions = [Int](repeating: 0, count: scan.components.count)
                        let restartInterval = parser.restartInterval
                        var mcusLeft = restartInterval
                        var nextRestart = 0
                        var coefficients = [Double](repeating: 0, count: 64)
                        var workspace = [Double](repeating: 0, count: 64)

                        func beginMCU() throws {
                            guard restartInterval > 0 else { return }
                            if mcusLeft == 0 {
                                try reader.restart(expected: nextRestart)
                                nextRestart = (nextRestart + 1) & 7
                                mcusLeft = restartInterval
                                for k in predictions.indices { predictions[k] = 0 }
                            }
                            mcusLeft -= 1
                        }

                        func block(_ k: Int, blockX: Int, blockY: Int) throws {
                            let c = scan.components[k].componentIndex
                            // Huffman decoding and dequantisation (F.2.2).
                            for i in 0..<64 { coefficients[i] = 0 }
                            guard let s = reader.decode(dcTables[k]), s <= 16 else { throw CodecError.corrupt("JPEG data has an invalid DC code") }
                            predictions[k] += JPEGBitReader.extend(reader.receive(s), s)
                            coefficients[0] = Double(predictions[k]) * Double(quant[k][0])
                            var z = 1
                            while z < 64 {
                                guard let rs = reader.decode(acTables[k]) else { throw CodecError.corrupt("JPEG data has an invalid AC code") }
                                let run = rs >> 4, size = rs & 15
                                if size == 0 {
                                    if run != 15 { break }
                                    z += 16
                                    continue
                                }
                                z += run
                                guard z < 64 else { throw CodecError.corrupt("JPEG block has more than 64 coefficients") }
                                coefficients[zigzag[z]] = Double(JPEGBitReader.extend(reader.receive(size), size)) * Double(quant[k][z])
                                z += 1
                            }
                            // Inverse DCT: rows, then columns.
                            for v in 0..<8 {
                                for x in 0..<8 {
                                    var sum = 0.0
                                    for u in 0..<8 { sum += coefficients[v * 8 + u] * cosines[x * 8 + u] }
                                    workspace[v * 8 + x] = sum
                                }
                            }
                            let g = geometries[c]
                            let origin = blockY * 8 * g.stride + blockX * 8
                            planes[c].withUnsafeMutableBufferPointer { plane in
                                for y in 0..<8 {
                                    for x in 0..<8 {
                                        var sum = 0.0
                                        for v in 0..<8 { sum += workspace[v * 8 + x] * cosines[y * 8 + v] }
                                        let value = Int32((sum + levelShift + 0.5).rounded(.down))
                                        plane[origin + y * g.stride + x] = min(max(value, 0), maxValue)
                                    }
                                }
                            }
                        }

                        if scan.components.count == 1 {
                            // Non-interleaved: one block per MCU over the component's own extent.
                            let c = scan.components[0].componentIndex
                            let comp = header.components[c]
                            let width = (header.samplesPerLine * comp.h + maxH - 1) / maxH
                            let height = (header.lines * comp.v + maxV - 1) / maxV
                            for by in 0..<((height + 7) / 8) {
                                for bx in 0..<((width + 7) / 8) {
                                    try beginMCU()
                                    try block(0, blockX: bx, blockY: by)
                                }
                                if reader.overrun { throw CodecError.corrupt("JPEG data ends at block row \(by + 1) (truncated)") }
                            }
                        } else {
                            for my in 0..<mcusPerColumn {
                                for mx in 0..<mcusPerLine {
                                    try beginMCU()
                                    for k in scan.components.indices {
                                        let comp = header.components[scan.components[k].componentIndex]
                                        for by in 0..<comp.v {
                                            for bx in 0..<comp.h {
                                                try block(k, blockX: mx * comp.h + bx, blockY: my * comp.v + by)
                                            }
                                        }
                                    }
                                }
                                if reader.overrun { throw CodecError.corrupt("JPEG data ends at MCU row \(my + 1) (truncated)") }
                            }
                        }
                        parser.position = reader.positionAfterScan()
                    }
                }
                for c in scan.components { decoded[c.componentIndex] = true }
                guard let next = try parser.nextScan() else { break }
                scan = next
            }
        }
        guard decoded.allSatisfy({ $0 }) else {
            throw CodecError.corrupt("JPEG codestream ends before every component was decoded")
        }

        // Upsample (replication) and interleave into the container.
        let bps = d.bytesPerSample
        let components = header.components.count
        var out = [UInt8](repeating: 0, count: d.decodedFrameLength)
        var upsampled = false
        out.withUnsafeMutableBufferPointer { dst in
            for c in 0..<components {
                let comp = header.components[c]
                if comp.h != maxH || comp.v != maxV { upsampled = true }
                let stride = geometries[c].stride
                planes[c].withUnsafeBufferPointer { plane in
                    for y in 0..<header.lines {
                        let sourceRow = (y * comp.v / maxV) * stride
                        for x in 0..<header.samplesPerLine {
                            let value = UInt32(bitPattern: plane[sourceRow + x * comp.h / maxH])
                            let at = ((y * header.samplesPerLine + x) * components + c) * bps
                            dst[at] = UInt8(truncatingIfNeeded: value)
                            if bps > 1 { dst[at + 1] = UInt8(truncatingIfNeeded: value >> 8) }
                        }
                    }
                }
            }
        }
        var operations: [DecodeOperation] = upsampled ? [.chromaUpsampled] : []
        if let op = SampleBuffers.correctUnusedBits(&out, bytesPerSample: bps, bits: d.bitsStored, signed: d.isSigned) {
            operations.append(op)
        }
        var photometric = d.photometricInterpretation
        if photometric == "YBR_FULL_422" && upsampled { photometric = "YBR_FULL" }
        return DecodedFrame(rows: d.rows, columns: d.columns, samplesPerPixel: d.samplesPerPixel, bytesPerSample: bps,
                            bitsStored: d.bitsStored, isSigned: d.isSigned, photometricInterpretation: photometric,
                            samples: out, operations: operations)
    }
}
