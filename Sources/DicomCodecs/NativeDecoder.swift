import DicomCore

/// Native (uncompressed) frames: Implicit and Explicit VR Little Endian, Explicit VR Big Endian
/// after the caller swapped the bytes (`swapBytes`), Deflated Explicit VR Little Endian after
/// inflation, and Encapsulated Uncompressed.
///
/// Handles Bits Allocated 1 (bit-packed, least significant bit first; unpacked to one byte per
/// pixel), 8, 16 and 32; Bits Stored < Bits Allocated (unused bits cleared or sign-extended);
/// Planar Configuration 1 (interleaved on output); YBR_FULL_422 (chrominance repeated for both
/// pixels of a pair, reported as YBR_FULL, as pydicom does). No colour conversion.
public struct NativeDecoder: PixelDecoder {
    public init() {}

    public func decode(_ frame: [UInt8], description: PixelDescription) throws -> DecodedFrame {
        try decode(frame, description: description, bitOffset: 0)
    }

    /// Decodes a native frame whose first pixel starts `bitOffset` bits into `frame[0]` (only
    /// for Bits Allocated 1, where frames need not be byte aligned; see
    /// `PixelDescription.nativeFrameStart(index:)`). Bytes past the frame are ignored.
    public func decode(_ frame: [UInt8], description d: PixelDescription, bitOffset: Int) throws -> DecodedFrame {
        guard bitOffset >= 0, bitOffset < 8, bitOffset == 0 || d.bitsAllocated == 1 else {
            throw CodecError.invalidDescription("bit offset \(bitOffset) for Bits Allocated \(d.bitsAllocated)")
        }
        let needed = d.nativeFrameByteCount(bitOffset: bitOffset)
        guard frame.count >= needed else {
            throw CodecError.corrupt("native frame has \(frame.count) bytes, \(d.rows)×\(d.columns)×\(d.samplesPerPixel) samples of \(d.bitsAllocated) bits need \(needed)")
        }
        if d.bitsAllocated == 1 {
            var out = [UInt8](repeating: 0, count: d.pixelCount)
            frame.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<dst.count {
                        let bit = bitOffset + i
                        dst[i] = (src[bit >> 3] >> UInt8(bit & 7)) & 1
                    }
                }
            }
            return DecodedFrame(rows: d.rows, columns: d.columns, samplesPerPixel: 1, bytesPerSample: 1, bitsStored: 1,
                                isSigned: false, photometricInterpretation: d.photometricInterpretation,
                                samples: out, operations: [.unpackedBits])
        }
        let bps = d.bytesPerSample
        var operations: [DecodeOperation] = []
        var photometric = d.photometricInterpretation
        var samples: [UInt8]
        if d.samplesPerPixel == 3 && d.isSubsampled422 {
            // Y1 Y2 Cb Cr → Y1 Cb Cr Y2 Cb Cr (PS3.3 C.7.6.3.1.2).
            samples = [UInt8](repeating: 0, count: d.decodedFrameLength)
            frame.withUnsafeBufferPointer { src in
                samples.withUnsafeMutableBufferPointer { dst in
                    let pairs = d.pixelCount / 2
                    for p in 0..<pairs {
                        let s = p * 4 * bps, t = p * 6 * bps
                        for b in 0..<bps {
                            let y1 = src[s + b], y2 = src[s + bps + b], cb = src[s + 2 * bps + b], cr = src[s + 3 * bps + b]
                            dst[t + b] = y1; dst[t + bps + b] = cb; dst[t + 2 * bps + b] = cr
                            dst[t + 3 * bps + b] = y2; dst[t + 4 * bps + b] = cb; dst[t + 5 * bps + b] = cr
                        }
                    }
                }
            }
            photometric = "YBR_FULL"
            operations.append(.chromaUpsampled)
        } else if d.samplesPerPixel > 1 && d.planarConfiguration == 1 {
            samples = frame.withUnsafeBytes {
                SampleBuffers.interleave(UnsafeRawBufferPointer(rebasing: $0[0..<d.decodedFrameLength]),
                                         pixels: d.pixelCount, components: d.samplesPerPixel, bytesPerSample: bps)
            }
            operations.append(.planarToInterleaved)
        } else {
            samples = frame.count == d.decodedFrameLength ? frame : Array(frame[0..<d.decodedFrameLength])
        }
        if let op = SampleBuffers.correctUnusedBits(&samples, bytesPerSample: bps, bits: d.bitsStored, signed: d.isSigned) {
            operations.append(op)
        }
        return DecodedFrame(rows: d.rows, columns: d.columns, samplesPerPixel: d.samplesPerPixel, bytesPerSample: bps,
                            bitsStored: d.bitsStored, isSigned: d.isSigned, photometricInterpretation: photometric,
                            samples: samples, operations: operations)
    }

    /// Reverses the byte order of each `wordSize`-byte word of `bytes` in place (Explicit VR
    /// Big Endian pixel data to little endian). A trailing partial word is left as it is.
    public static func swapBytes(_ bytes: inout [UInt8], wordSize: Int) {
        guard wordSize > 1 else { return }
        bytes.withUnsafeMutableBufferPointer { p in
            var i = 0
            while i + wordSize <= p.count {
                var a = i, b = i + wordSize - 1
                while a < b { p.swapAt(a, b); a += 1; b -= 1 }
                i += wordSize
            }
        }
    }

    /// The word size to swap Explicit VR Big Endian pixel data by: the sample width, except
    /// that 8-bit data in an OW element is swapped in 16-bit words and 1-bit data is not
    /// swapped (as pydicom reads them).
    public static func bigEndianWordSize(bitsAllocated: Int, vr: VR) -> Int {
        switch bitsAllocated {
        case 1: return 1
        case 8: return vr == .OW ? 2 : 1
        default: return bitsAllocated / 8
        }
    }
}
