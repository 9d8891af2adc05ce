/// Sample-level helpers shared by the decoders: unused-bit correction, planar to interleaved,
/// widening. All work in place or into a new array on little-endian sample bytes.
enum SampleBuffers {
    /// Clears (unsigned) or sign-extends (signed) the bits above `bits` of every sample, as
    /// pydicom does for Bits Stored < Bits Allocated. Returns the operation, nil when nothing
    /// had to be done.
    @discardableResult
    static func correctUnusedBits(_ bytes: inout [UInt8], bytesPerSample: Int, bits: Int, signed: Bool) -> DecodeOperation? {
        let width = bytesPerSample * 8
        guard bits > 0, bits < width else { return nil }
        let count = bytes.count / bytesPerSample
        bytes.withUnsafeMutableBytes { raw in
            switch bytesPerSample {
            case 1:
                let p = raw.bindMemory(to: UInt8.self)
                let shift = UInt8(8 - bits)
                if signed {
                    for i in 0..<count { p[i] = UInt8(bitPattern: Int8(bitPattern: p[i] << shift) >> shift) }
                } else {
                    let mask = UInt8.max >> shift
                    for i in 0..<count { p[i] &= mask }
                }
            case 2:
                let p = raw.bindMemory(to: UInt16.self)
                let shift = UInt16(16 - bits)
                if signed {
                    for i in 0..<count {
                        let v = UInt16(littleEndian: p[i])
                        p[i] = UInt16(bitPattern: Int16(bitPattern: v << shift) >> shift).littleEndian
                    }
                } else {
                    let mask = (UInt16.max >> shift).littleEndian
                    for i in 0..<count { p[i] &= mask }
                }
            default:
                let p = raw.bindMemory(to: UInt32.self)
                let shift = UInt32(32 - bits)
                if signed {
                    for i in 0..<count {
                        let v = UInt32(littleEndian: p[i])
                        p[i] = UInt32(bitPattern: Int32(bitPattern: v << shift) >> shift).littleEndian
                    }
                } else {
                    let mask = (UInt32.max >> shift).littleEndian
                    for i in 0..<count { p[i] &= mask }
                }
            }
        }
        return signed ? .signExtended(fromBits: bits) : .maskedUnusedBits(toBits: bits)
    }

    /// Reorders colour-by-plane samples (all of component 0, then 1, ...) to colour-by-pixel.
    static func interleave(_ planar: UnsafeRawBufferPointer, pixels: Int, components: Int, bytesPerSample: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: pixels * components * bytesPerSample)
        out.withUnsafeMutableBytes { dst in
            switch bytesPerSample {
            case 1:
                for c in 0..<components {
                    let plane = c * pixels
                    for i in 0..<pixels { dst[i * components + c] = planar[plane + i] }
                }
            default:
                for c in 0..<components {
                    let plane = c * pixels * bytesPerSample
                    for i in 0..<pixels {
                        let to = (i * components + c) * bytesPerSample
                        let from = plane + i * bytesPerSample
                        for b in 0..<bytesPerSample { dst[to + b] = planar[from + b] }
                    }
                }
            }
        }
        return out
    }

    /// Copies `count` samples of `fromBytes` width into samples of `toBytes` width (toBytes >
    /// fromBytes), sign-extending when `signed`.
    static func widen(_ source: [UInt8], fromBytes: Int, toBytes: Int, signed: Bool) -> [UInt8] {
        let count = source.count / fromBytes
        var out = [UInt8](repeating: 0, count: count * toBytes)
        for i in 0..<count {
            var value: UInt32 = 0
            for b in 0..<fromBytes { value |= UInt32(source[i * fromBytes + b]) << UInt32(8 * b) }
            if signed, value & (1 << UInt32(8 * fromBytes - 1)) != 0 {
                value |= UInt32.max << UInt32(8 * fromBytes)
            }
            for b in 0..<toBytes { out[i * toBytes + b] = UInt8(truncatingIfNeeded: value >> UInt32(8 * b)) }
        }
        return out
    }

    /// Container width for a precision: 1 byte up to 8 bits, 2 up to 16, else 4.
    static func containerBytes(forBits bits: Int) -> Int {
        bits <= 8 ? 1 : (bits <= 16 ? 2 : 4)
    }
}
