import DicomCore

/// What a frame's samples are: the Image Pixel module attributes (PS3.3 C.7.6.3) a decoder needs,
/// plus the transfer syntax the frame is encoded in. Built from a data set or directly; either
/// way it is validated, so a decoder can size its buffers from it without further checks.
public struct PixelDescription: Sendable, Equatable {
    /// (0028,0010) Rows.
    public let rows: Int
    /// (0028,0011) Columns.
    public let columns: Int
    /// (0028,0002) Samples per Pixel: 1 or 3.
    public let samplesPerPixel: Int
    /// (0028,0100) Bits Allocated: 1, 8, 16 or 32.
    public let bitsAllocated: Int
    /// (0028,0101) Bits Stored: 1 ... bitsAllocated.
    public let bitsStored: Int
    /// (0028,0102) High Bit. Decoders assume bitsStored - 1 (as pydicom and dcmtk do for
    /// compressed data); other values are accepted and recorded.
    public let highBit: Int
    /// (0028,0103) Pixel Representation 1: samples are two's complement signed integers.
    public let isSigned: Bool
    /// (0028,0004) Photometric Interpretation, e.g. MONOCHROME2, RGB, YBR_FULL_422.
    public let photometricInterpretation: String
    /// (0028,0006) Planar Configuration: 0 colour-by-pixel, 1 colour-by-plane. 0 when
    /// samplesPerPixel is 1.
    public let planarConfiguration: Int
    /// (0028,0008) Number of Frames (1 when absent).
    public let numberOfFrames: Int
    /// The transfer syntax of the frames (0002,0010).
    public let transferSyntaxUID: String

    /// Frames larger than this (decoded, in bytes) are refused as a description error: a
    /// safeguard against allocating gigabytes because of a corrupt header.
    public static let maximumFrameBytes = 1 << 32

    /// Reads the Image Pixel attributes of `dataSet` (the top level of an instance, or a
    /// functional group's item when it carries them).
    ///
    /// Defaults: Samples per Pixel 1, Bits Stored = Bits Allocated, High Bit = Bits Stored − 1,
    /// Pixel Representation 0, Planar Configuration 0, Number of Frames 1, Photometric
    /// Interpretation MONOCHROME2 (1 sample) or RGB (3 samples). Rows, Columns and Bits
    /// Allocated are required.
    /// - Throws: `CodecError.invalidDescription` when an attribute is missing or the values
    ///   are inconsistent.
    public init(dataSet: DataSet, transferSyntaxUID: String) throws {
        func required(_ tag: Tag, _ name: String) throws -> Int {
            guard let value = dataSet.int(tag) else {
                throw CodecError.invalidDescription("\(name) \(tag) is missing or not a number")
            }
            return value
        }
        let samples = dataSet.int(PixelTags.samplesPerPixel) ?? 1
        let bitsAllocated = try required(PixelTags.bitsAllocated, "Bits Allocated")
        let bitsStored = dataSet.int(PixelTags.bitsStored) ?? bitsAllocated
        let photometric = dataSet.string(PixelTags.photometricInterpretation)
            .map { String($0.drop(while: { $0 == " " })) }
            .flatMap { $0.isEmpty ? nil : $0 }
        let representation = dataSet.int(PixelTags.pixelRepresentation) ?? 0
        guard representation == 0 || representation == 1 else {
            throw CodecError.invalidDescription("Pixel Representation is \(representation), expected 0 or 1")
        }
        try self.init(
            rows: try required(PixelTags.rows, "Rows"),
            columns: try required(PixelTags.columns, "Columns"),
            samplesPerPixel: samples,
            bitsAllocated: bitsAllocated,
            bitsStored: bitsStored,
            highBit: dataSet.int(PixelTags.highBit) ?? bitsStored - 1,
            isSigned: representation == 1,
            photometricInterpretation: photometric,
            planarConfiguration: samples > 1 ? (dataSet.int(PixelTags.planarConfiguration) ?? 0) : 0,
            numberOfFrames: dataSet.int(PixelTags.numberOfFrames) ?? 1,
            transferSyntaxUID: transferSyntaxUID)
    }

    /// A description from values; validated as `init(dataSet:transferSyntaxUID:)` does.
    public init(rows: Int, columns: Int, samplesPerPixel: Int = 1, bitsAllocated: Int, bitsStored: Int? = nil,
                highBit: Int? = nil, isSigned: Bool = false, photometricInterpretation: String? = nil,
                planarConfiguration: Int = 0, numberOfFrames: Int = 1, transferSyntaxUID: String) throws {
        let bitsStored = bitsStored ?? bitsAllocated
        self.rows = rows
        self.columns = columns
        self.samplesPerPixel = samplesPerPixel
        self.bitsAllocated = bitsAllocated
        self.bitsStored = bitsStored
        self.highBit = highBit ?? bitsStored - 1
        self.isSigned = isSigned
        self.photometricInterpretation = photometricInterpretation ?? (samplesPerPixel == 1 ? "MONOCHROME2" : "RGB")
        self.planarConfiguration = samplesPerPixel > 1 ? planarConfiguration : 0
        self.numberOfFrames = numberOfFrames
        self.transferSyntaxUID = transferSyntaxUID
        try validate()
    }

    private func validate() throws {
        func fail(_ message: String) -> CodecError { .invalidDescription(message) }
        guard rows > 0, rows <= 0xFFFF else { throw fail("Rows is \(rows), expected 1...65535") }
        guard columns > 0, columns <= 0xFFFF else { throw fail("Columns is \(columns), expected 1...65535") }
        guard samplesPerPixel == 1 || samplesPerPixel == 3 else {
            throw fail("Samples per Pixel is \(samplesPerPixel), expected 1 or 3")
        }
        guard [1, 8, 16, 32].contains(bitsAllocated) else {
            throw fail("Bits Allocated is \(bitsAllocated), supported are 1, 8, 16 and 32")
        }
        guard bitsStored >= 1, bitsStored <= bitsAllocated else {
            throw fail("Bits Stored is \(bitsStored) with Bits Allocated \(bitsAllocated)")
        }
        guard highBit >= bitsStored - 1, highBit < bitsAllocated else {
            throw fail("High Bit is \(highBit) with Bits Stored \(bitsStored) and Bits Allocated \(bitsAllocated)")
        }
        guard planarConfiguration == 0 || planarConfiguration == 1 else {
            throw fail("Planar Configuration is \(planarConfiguration), expected 0 or 1")
        }
        guard numberOfFrames >= 1 else { throw fail("Number of Frames is \(numberOfFrames)") }
        if bitsAllocated == 1 && samplesPerPixel != 1 {
            throw fail("Bits Allocated 1 with \(samplesPerPixel) samples per pixel")
        }
        if isSubsampled422 && columns % 2 != 0 && TransferSyntaxUID.native.contains(transferSyntaxUID) {
            throw fail("YBR_FULL_422 with an odd number of columns (\(columns)) cannot be native")
        }
        // rows * columns * samples * bytes per sample must fit comfortably.
        let (pixels, o1) = rows.multipliedReportingOverflow(by: columns)
        let (samples, o2) = pixels.multipliedReportingOverflow(by: samplesPerPixel)
        let (bytes, o3) = samples.multipliedReportingOverflow(by: max(1, bitsAllocated / 8))
        guard !o1, !o2, !o3, bytes <= Self.maximumFrameBytes else {
            throw fail("a frame of \(rows)×\(columns)×\(samplesPerPixel) samples of \(bitsAllocated) bits is too large")
        }
    }

    // MARK: Derived sizes

    /// Pixels of one frame.
    public var pixelCount: Int { rows * columns }
    /// Samples of one frame (all components).
    public var sampleCount: Int { rows * columns * samplesPerPixel }
    /// Bytes per decoded sample: 1 for Bits Allocated 1 and 8, 2 for 16, 4 for 32.
    public var bytesPerSample: Int { max(1, bitsAllocated / 8) }
    /// Bytes of one decoded frame (always full resolution, colour-by-pixel).
    public var decodedFrameLength: Int { sampleCount * bytesPerSample }

    /// Photometric Interpretation YBR_FULL_422 (native data: two luminance samples share one
    /// pair of chrominance samples).
    public var isSubsampled422: Bool { photometricInterpretation == "YBR_FULL_422" }

    /// Bytes of one native (uncompressed) frame, as stored: bit-packed for Bits Allocated 1
    /// (rounded up to whole bytes), half the chrominance for YBR_FULL_422.
    public var nativeFrameLength: Int {
        if bitsAllocated == 1 { return (pixelCount + 7) / 8 }
        if isSubsampled422 && samplesPerPixel == 3 { return pixelCount * 2 * bytesPerSample }
        return decodedFrameLength
    }

    /// Where native frame `index` (0-based) starts within the Pixel Data value: a byte offset
    /// plus, for Bits Allocated 1, the bit within that byte (frames of 1-bit data need not start
    /// on a byte boundary). Its bytes are `nativeFrameByteCount(bitOffset:)` long.
    public func nativeFrameStart(index: Int) -> (byteOffset: Int, bitOffset: Int) {
        if bitsAllocated == 1 {
            let bit = index * pixelCount
            return (bit / 8, bit % 8)
        }
        return (index * nativeFrameLength, 0)
    }

    /// Bytes to read for a native frame that starts at `bitOffset` within its first byte.
    public func nativeFrameByteCount(bitOffset: Int = 0) -> Int {
        bitsAllocated == 1 ? (bitOffset + pixelCount + 7) / 8 : nativeFrameLength
    }
}

/// Tags of the Image Pixel module this module reads (kept private to avoid clashing with names
/// DicomCore may add).
enum PixelTags {
    static let samplesPerPixel = Tag(0x0028, 0x0002)
    static let photometricInterpretation = Tag(0x0028, 0x0004)
    static let planarConfiguration = Tag(0x0028, 0x0006)
    static let numberOfFrames = Tag(0x0028, 0x0008)
    static let rows = Tag(0x0028, 0x0010)
    static let columns = Tag(0x0028, 0x0011)
    static let bitsAllocated = Tag(0x0028, 0x0100)
    static let bitsStored = Tag(0x0028, 0x0101)
    static let highBit = Tag(0x0028, 0x0102)
    static let pixelRepresentation = Tag(0x0028, 0x0103)
}
