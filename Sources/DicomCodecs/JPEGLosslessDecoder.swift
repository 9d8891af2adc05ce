/// JPEG Lossless, Non-Hierarchical (Process 14): 1.2.840.10008.1.2.4.57 (any predictor) and
/// 1.2.840.10008.1.2.4.70 (selection value 1), in Swift (T.81 Annex H; libjpeg-turbo 2.1 has
/// no lossless decoder).
///
/// Huffman-coded differences, predictors 1–7, point transform, precision 2–16 bits, one or more
/// components in one interleaved scan or one scan per component, restart intervals. Not
/// supported: arithmetic coding, hierarchical (differential) frames, interleaved components with
/// sampling factors other than 1×1. A frame whose codestream turns out to be a DCT process is
/// handed to `JPEGBaselineDecoder`.
public struct JPEGLosslessDecoder: PixelDecoder {
    public init() {}

    public func decode(_ frame: [UInt8], description d: PixelDescription) throws -> DecodedFrame {
        var parser = JPEGParser(frame, transferSyntax: d.transferSyntaxUID)
        guard var scan = try parser.nextScan(), let header = parser.frame else {
            throw CodecError.corrupt("JPEG codestream has no scan")
        }
        if !header.isLossless {
            if header.process <= 0xC2 { return try JPEGBaselineDecoder().decode(frame, description: d) }
            throw CodecError.unsupported(transferSyntax: d.transferSyntaxUID, reason: "JPEG process with SOF marker 0xFF\(hex(header.process))")
        }
        guard header.process == 0xC3 else {
            throw CodecError.unsupported(transferSyntax: d.transferSyntaxUID,
                                        reason: header.isArithmetic ? "arithmetic-coded JPEG lossless" : "hierarchical (differential) JPEG lossless")
        }
        try JPEGFrameCheck.validate(header, against: d)
        if header.components.count > 1, header.components.contains(where: { $0.h != 1 || $0.v != 1 }) {
            throw CodecError.unsupported(transferSyntax: d.transferSyntaxUID, reason: "JPEG lossless with sampling factors other than 1×1")
        }

        let width = header.samplesPerLine, height = header.lines
        let componentCount = header.components.count
        // One plane per component, back to back.
        var planes = [UInt16](repeating: 0, count: width * height * componentCount)
        var decoded = [Bool](repeating: false, count: componentCount)
        var pointTransforms = [Int](repeating: 0, count: componentCount)
        try frame.withUnsafeBufferPointer { data in
            while true {
                try decodeScan(scan, header: header, parser: &parser, data: data, planes: &planes)
                for c in scan.components {
                    decoded[c.componentIndex] = true
                    pointTransforms[c.componentIndex] = scan.al
                }
                guard let next = try parser.nextScan() else { break }
                scan = next
            }
        }
        guard decoded.allSatisfy({ $0 }) else {
            throw CodecError.corrupt("JPEG lossless codestream ends before every component was decoded")
        }

        let bps = d.bytesPerSample
        guard header.precision <= 8 * bps else {
            throw CodecError.corrupt("JPEG precision \(header.precision) does not fit Bits Allocated \(d.bitsAllocated)")
        }
        var out = [UInt8](repeating: 0, count: d.decodedFrameLength)
        out.withUnsafeMutableBufferPointer { dst in
            let planeSize = width * height
            planes.withUnsafeBufferPointer { plane in
                for c in 0..<componentCount {
                    let shift = UInt32(pointTransforms[c])
                    var at = c * bps
                    let stride = componentCount * bps
                    for i in (c * planeSize)..<((c + 1) * planeSize) {
                        let value = UInt32(plane[i]) << shift
                        dst[at] = UInt8(truncatingIfNeeded: value)
                        if bps > 1 { dst[at + 1] = UInt8(truncatingIfNeeded: value >> 8) }
                        if bps > 2 { dst[at + 2] = UInt8(truncatingIfNeeded: value >> 16) }
                        at += stride
                    }
                }
            }
        }
        var operations: [DecodeOperation] = []
        if let op = SampleBuffers.correctUnusedBits(&out, bytesPerSample: bps, bits: d.bitsStored, signed: d.isSigned) {
            operations.append(op)
        }
        return DecodedFrame(rows: d.rows, columns: d.columns, samplesPerPixel: d.samplesPerPixel, bytesPerSample: bps,
                            bitsStored: d.bitsStored, isSigned: d.isSigned,
                            photometricInterpretation: d.photometricInterpretation, samples: out, operations: operations)
    }

    private func decodeScan(_ scan: JPEGScanHeader, header: JPEGFrameHeader, parser: inout JPEGParser,
                            data: UnsafeBufferPointer<UInt8>, planes: inout [UInt16]) throws {
        let predictor = scan.ss, pointTransform = scan.al
        guard (1...7).contains(predictor) else {
            throw CodecError.corrupt("JPEG lossless predictor selection value \(predictor)")
        }
        guard pointTransform < header.precision else {
            throw CodecError.corrupt("JPEG point transform \(pointTransform) with precision \(header.precision)")
        }
        let tableList: [HuffmanTable] = try scan.components.map {
            guard let table = parser.dcTables[$0.dcTable] else {
                throw CodecError.corrupt("JPEG scan uses Huffman table \($0.dcTable), which is not defined")
            }
            return table
        }
        let width = header.samplesPerLine, height = header.lines
        let initial = 1 << (header.precision - pointTransform - 1)
        let restartInterval = parser.restartInterval
        if restartInterval > 0 && restartInterval % width != 0 {
            // T.81 does not say how prediction resumes after a restart in the middle of a line;
            // IJG libjpeg (dcmtk) refuses such streams, and so does dwc.
            throw CodecError.unsupported(transferSyntax: parser.transferSyntax,
                                        reason: "JPEG lossless restart interval \(restartInterval) is not a multiple of the \(width) MCUs per line")
        }
        var reader = JPEGBitReader(data: data, position: parser.position)
        var mcusLeft = restartInterval
        var nextRestart = 0
        var reset = true
        var firstLine = 0

        let planeSize = width * height
        try HuffmanSet(tableList).withViews { tables in
            try planes.withUnsafeMutableBufferPointer { buffer in
                // One pointer per scan component, at the start of its plane.
                let pointers = scan.components.map { buffer.baseAddress! + $0.componentIndex * planeSize }
                let count = pointers.count
                for y in 0..<height {
                    let row = y * width
                    for x in 0..<width {
                        if restartInterval > 0 {
                            if mcusLeft == 0 {
                                try reader.restart(expected: nextRestart)
                                nextRestart = (nextRestart + 1) & 7
                                mcusLeft = restartInterval
                                reset = true
                                firstLine = y
                            }
                            mcusLeft -= 1
                        }
                        let i = row + x
                        for k in 0..<count {
                            let p = pointers[k]
                            let prediction: Int
                            if reset {
                                prediction = initial
                            } else if y == firstLine {
                                prediction = Int(p[i - 1])
                            } else if x == 0 {
                                prediction = Int(p[i - width])
                            } else {
                                let ra = Int(p[i - 1]), rb = Int(p[i - width]), rc = Int(p[i - width - 1])
                                switch predictor {
                                case 1: prediction = ra
                                case 2: prediction = rb
                                case 3: prediction = rc
                                case 4: prediction = ra + rb - rc
                                case 5: prediction = ra + ((rb - rc) >> 1)
                                case 6: prediction = rb + ((ra - rc) >> 1)
                                default: prediction = (ra + rb) >> 1
                                }
                            }
                            guard let category = reader.decode(tables[k]), category <= 16 else {
                                throw CodecError.corrupt("JPEG lossless data has an invalid Huffman code at row \(y + 1)")
                            }
                            let difference: Int
                            if category == 0 {
                                difference = 0
                            } else if category == 16 {
                                difference = 32768
                            } else {
                                difference = JPEGBitReader.extend(reader.receive(category), category)
                            }
                            p[i] = UInt16(truncatingIfNeeded: prediction + difference)
                        }
                        reset = false
                    }
                    if reader.overrun {
                        throw CodecError.corrupt("JPEG lossless data ends at row \(y + 1) of \(height) (truncated)")
                    }
                }
            }
        }
        parser.position = reader.positionAfterScan()
    }
}

/// Checks that a JPEG frame header agrees with the pixel description.
enum JPEGFrameCheck {
    static func validate(_ header: JPEGFrameHeader, against d: PixelDescription) throws {
        guard header.lines > 0 else {
            throw CodecError.unsupported(transferSyntax: d.transferSyntaxUID, reason: "JPEG frame with 0 lines (DNL marker)")
        }
        guard header.samplesPerLine == d.columns, header.lines == d.rows else {
            throw CodecError.corrupt("JPEG frame is \(header.samplesPerLine)×\(header.lines), the description says \(d.columns)×\(d.rows)")
        }
        guard header.components.count == d.samplesPerPixel else {
            throw CodecError.corrupt("JPEG frame has \(header.components.count) components, the description \(d.samplesPerPixel) samples per pixel")
        }
        guard header.precision <= d.bitsAllocated else {
            throw CodecError.corrupt("JPEG precision \(header.precision) exceeds Bits Allocated \(d.bitsAllocated)")
        }
    }
}
