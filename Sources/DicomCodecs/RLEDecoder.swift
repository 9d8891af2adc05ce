/// RLE Lossless (1.2.840.10008.1.2.5, PS3.5 Annex G), in Swift.
///
/// A frame is a 64-byte header (segment count and up to 15 segment offsets, little endian)
/// and one PackBits-coded segment per byte plane: for each sample of a pixel, its most
/// significant byte first. The header is validated (count matches the description, offsets
/// ascending and inside the frame); a segment must decode to exactly one plane (rows × columns
/// bytes): shorter or longer is an error, except that a trailing pad byte or no-op (-128) bytes
/// after the plane are allowed.
public struct RLEDecoder: PixelDecoder {
    public init() {}

    public func decode(_ frame: [UInt8], description d: PixelDescription) throws -> DecodedFrame {
        guard d.bitsAllocated >= 8 else {
            throw CodecError.unsupported(transferSyntax: d.transferSyntaxUID, reason: "RLE with Bits Allocated \(d.bitsAllocated)")
        }
        let bps = d.bytesPerSample
        let expectedSegments = d.samplesPerPixel * bps
        guard frame.count >= 64 else {
            throw CodecError.corrupt("RLE frame of \(frame.count) bytes is shorter than its 64-byte header")
        }
        func u32(_ i: Int) -> Int {
            Int(UInt32(frame[i]) | UInt32(frame[i + 1]) << 8 | UInt32(frame[i + 2]) << 16 | UInt32(frame[i + 3]) << 24)
        }
        let segmentCount = u32(0)
        guard segmentCount == expectedSegments else {
            throw CodecError.corrupt("RLE header has \(segmentCount) segments, \(d.samplesPerPixel) samples of \(d.bitsAllocated) bits need \(expectedSegments)")
        }
        var offsets = (0..<segmentCount).map { u32(4 + 4 * $0) }
        guard offsets[0] == 64 else {
            throw CodecError.corrupt("RLE first segment offset is \(offsets[0]), expected 64")
        }
        for i in 0..<segmentCount {
            guard offsets[i] < frame.count else {
                throw CodecError.corrupt("RLE segment \(i + 1) offset \(offsets[i]) is past the end of the \(frame.count)-byte frame")
            }
            if i > 0, offsets[i] <= offsets[i - 1] {
                throw CodecError.corrupt("RLE segment offsets are not ascending (\(offsets[i - 1]), \(offsets[i]))")
            }
        }
        offsets.append(frame.count)

        let pixels = d.pixelCount
        let components = d.samplesPerPixel
        var out = [UInt8](repeating: 0, count: d.decodedFrameLength)
        var plane = [UInt8](repeating: 0, count: pixels)
        try frame.withUnsafeBufferPointer { src in
            for segment in 0..<segmentCount {
                let (produced, consumed) = plane.withUnsafeMutableBufferPointer { dst in
                    Self.unpackBits(src, from: offsets[segment], to: offsets[segment + 1], into: dst)
                }
                guard produced <= pixels else {
                    throw CodecError.corrupt("RLE segment \(segment + 1) decodes to more than the \(pixels) bytes of a plane (the frame is larger than the description)")
                }
                guard produced == pixels else {
                    throw CodecError.corrupt("RLE segment \(segment + 1) decodes to \(produced) bytes, expected \(pixels)")
                }
                let rest = src[consumed..<offsets[segment + 1]]
                guard rest.count <= 1 || rest.allSatisfy({ $0 == 0x80 }) else {
                    throw CodecError.corrupt("RLE segment \(segment + 1) has \(rest.count) bytes left after its \(pixels)-byte plane (the frame is larger than the description)")
                }
                let component = segment / bps
                let byteInSample = bps - 1 - segment % bps  // most significant byte first
                out.withUnsafeMutableBufferPointer { dst in
                    let stride = components * bps
                    var at = component * bps + byteInSample
                    for i in 0..<pixels { dst[at] = plane[i]; at += stride }
                }
            }
        }
        var operations: [DecodeOperation] = []
        if let op = SampleBuffers.correctUnusedBits(&out, bytesPerSample: bps, bits: d.bitsStored, signed: d.isSigned) {
            operations.append(op)
        }
        return DecodedFrame(rows: d.rows, columns: d.columns, samplesPerPixel: components, bytesPerSample: bps,
                            bitsStored: d.bitsStored, isSigned: d.isSigned,
                            photometricInterpretation: d.photometricInterpretation, samples: out, operations: operations)
    }

    /// PackBits-decodes src[start..<end] into dst. Returns the bytes written, or dst.count + 1
    /// when the runs hold more than dst has room for, and where decoding stopped in src.
    static func unpackBits(_ src: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                           into dst: UnsafeMutableBufferPointer<UInt8>) -> (written: Int, consumed: Int) {
        var i = start, o = 0
        let capacity = dst.count
        while i < end && o < capacity {
            let header = Int(Int8(bitPattern: src[i]))
            i += 1
            if header >= 0 {
                // A literal run cut short by the segment's end is as far as the data goes.
                let available = min(header + 1, end - i)
                guard available <= capacity - o else { return (capacity + 1, i) }
                for k in 0..<available { dst[o + k] = src[i + k] }
                i += available
                o += available
            } else if header != -128 {
                guard i < end else { break }
                let n = 1 - header
                guard n <= capacity - o else { return (capacity + 1, i) }
                let value = src[i]
                for k in 0..<n { dst[o + k] = value }
                i += 1
                o += n
            }
        }
        return (o, i)
    }
}
