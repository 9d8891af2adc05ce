import DicomCore

/// Tags of the modules `dwc render` reads (PS3.3 C.7.6.3, C.11, C.7.6.16).
enum RenderTags {
    static let photometricInterpretation = Tag(0x0028, 0x0004)
    static let pixelRepresentation = Tag(0x0028, 0x0103)
    static let bitsStored = Tag(0x0028, 0x0101)
    static let windowCenter = Tag(0x0028, 0x1050)
    static let windowWidth = Tag(0x0028, 0x1051)
    static let rescaleIntercept = Tag(0x0028, 0x1052)
    static let rescaleSlope = Tag(0x0028, 0x1053)
    static let rescaleType = Tag(0x0028, 0x1054)
    static let windowExplanation = Tag(0x0028, 0x1055)
    static let voiLUTFunction = Tag(0x0028, 0x1056)
    static let redDescriptor = Tag(0x0028, 0x1101)
    static let greenDescriptor = Tag(0x0028, 0x1102)
    static let blueDescriptor = Tag(0x0028, 0x1103)
    static let redData = Tag(0x0028, 0x1201)
    static let greenData = Tag(0x0028, 0x1202)
    static let blueData = Tag(0x0028, 0x1203)
    static let segmentedRedData = Tag(0x0028, 0x1221)
    static let segmentedGreenData = Tag(0x0028, 0x1222)
    static let segmentedBlueData = Tag(0x0028, 0x1223)
    static let lutDescriptor = Tag(0x0028, 0x3002)
    static let lutExplanation = Tag(0x0028, 0x3003)
    static let modalityLUTType = Tag(0x0028, 0x3004)
    static let lutData = Tag(0x0028, 0x3006)
    static let modalityLUTSequence = Tag(0x0028, 0x3000)
    static let voiLUTSequence = Tag(0x0028, 0x3010)
    static let presentationLUTShape = Tag(0x2050, 0x0020)
    static let sharedFunctionalGroups = Tag(0x5200, 0x9229)
    static let perFrameFunctionalGroups = Tag(0x5200, 0x9230)
    static let frameVOILUTSequence = Tag(0x0028, 0x9132)
    static let pixelValueTransformationSequence = Tag(0x0028, 0x9145)
}

/// Loads the bytes of an element value the header parse kept as a reference (large LUT data).
typealias ValueLoader = (DataElement) throws -> [UInt8]?

/// A lookup table of the Modality LUT, VOI LUT or Palette Color LUT modules (PS3.3 C.11.1,
/// C.11.2, C.7.6.3.1.5): input values below the first mapped value take the first entry, those
/// past the last entry the last one.
public struct RenderLUT: Sendable, Equatable {
    /// The input value mapped to `entries[0]`.
    public var firstMapped: Int
    /// Bits per entry as declared by the descriptor (corrected when the data disagree).
    public var bits: Int
    public var entries: [Int]
    public var explanation: String?

    public init(firstMapped: Int, bits: Int, entries: [Int], explanation: String? = nil) {
        self.firstMapped = firstMapped
        self.bits = bits
        self.entries = entries
        self.explanation = explanation
    }

    @inline(__always)
    public func lookup(_ x: Int) -> Int {
        let i = x - firstMapped
        if i <= 0 { return entries[0] }
        if i >= entries.count { return entries[entries.count - 1] }
        return entries[i]
    }

    /// The largest value an entry can hold: 2^bits − 1.
    public var maximumOutput: Int { (1 << bits) - 1 }

    /// Reads a LUT item (Modality LUT Sequence or VOI LUT Sequence item): LUT Descriptor,
    /// LUT Data, LUT Explanation. `signedInput`: the first mapped value is signed even when the
    /// descriptor was written as US (values ≥ 32768 are then negative, PS3.3 C.11.1.1.1).
    static func item(_ item: DataSet, signedInput: Bool, load: ValueLoader) throws -> RenderLUT {
        guard let descriptor = item[RenderTags.lutDescriptor] else {
            throw DwcError(.decodeFailed, "LUT item without LUT Descriptor (0028,3002)")
        }
        guard let dataElement = item[RenderTags.lutData], let data = try load(dataElement) else {
            throw DwcError(.decodeFailed, "LUT item without LUT Data (0028,3006)")
        }
        let (count, first, bits) = try Self.descriptor(descriptor, bigEndian: item.isBigEndian, signedInput: signedInput, name: "LUT Descriptor")
        var lut = try Self.table(data: data, vr: dataElement.vr, count: count, bits: bits, bigEndian: item.isBigEndian, name: "LUT Data")
        lut.firstMapped = first
        lut.explanation = item.string(RenderTags.lutExplanation)
        return lut
    }

    /// The three values of a LUT descriptor: number of entries (0 means 65536), first mapped
    /// value, bits per entry.
    static func descriptor(_ element: DataElement, bigEndian: Bool, signedInput: Bool, name: String) throws -> (Int, Int, Int) {
        var values: [Int]
        if let ints = element.ints(bigEndian: bigEndian), ints.count >= 3 {
            values = ints
        } else if let bytes = element.bytes, bytes.count >= 6 {
            // OW or UN: three 16-bit words.
            values = BinaryValues.integers(bytes[...], vr: .US, bigEndian: bigEndian)
        } else {
            throw DwcError(.decodeFailed, "\(name) \(element.tag) does not hold three numbers")
        }
        var count = values[0]
        if count <= 0 { count += 65536 }
        var first = values[1]
        if first < 0, element.vr != .SS { first += 65536 }
        if signedInput, first >= 32768, first < 65536 { first -= 65536 }
        let bits = values[2]
        guard count >= 1, count <= 65536 else { throw DwcError(.decodeFailed, "\(name): \(values[0]) entries") }
        guard bits >= 1, bits <= 16 else { throw DwcError(.decodeFailed, "\(name): \(bits) bits per entry (1...16 supported)") }
        return (count, first, bits)
    }

    /// Entries from LUT data: one byte each when the data have exactly `count` bytes (8-bit
    /// tables in OB, or two 8-bit entries per OW word), else 16-bit words in the data set's byte
    /// order. 8-bit tables whose entries were stored in the high byte of each word are shifted
    /// down; tables whose values exceed the declared bits get the bits their values need.
    static func table(data: [UInt8], vr: VR, count: Int, bits declared: Int, bigEndian: Bool, name: String) throws -> RenderLUT {
        var entries: [Int]
        if data.count == count && declared <= 8 {
            entries = data.map(Int.init)
        } else if data.count >= 2 * count {
            entries = BinaryValues.integers(data[0..<(2 * count)], vr: .US, bigEndian: bigEndian)
        } else if data.count >= count && declared <= 8 {
            entries = data[0..<count].map(Int.init)
        } else {
            throw DwcError(.decodeFailed, "\(name) has \(data.count) bytes for \(count) entries of \(declared) bits")
        }
        var bits = declared
        let maximum = entries.max() ?? 0
        if maximum >= 1 << bits {
            if bits <= 8, entries.allSatisfy({ $0 & 0xFF == 0 }) {
                entries = entries.map { $0 >> 8 }
            } else {
                bits = 16
            }
        }
        return RenderLUT(firstMapped: 0, bits: bits, entries: entries)
    }
}

/// The three tables of a PALETTE COLOR image (PS3.3 C.7.6.3.1.5-6), normal or segmented
/// (C.7.9.2).
public struct PaletteLUT: Sendable, Equatable {
    public var red: RenderLUT
    public var green: RenderLUT
    public var blue: RenderLUT
    public var segmented: Bool

    static func read(_ ds: DataSet, load: ValueLoader) throws -> PaletteLUT? {
        let tags = [(RenderTags.redDescriptor, RenderTags.redData, RenderTags.segmentedRedData, "Red"),
                    (RenderTags.greenDescriptor, RenderTags.greenData, RenderTags.segmentedGreenData, "Green"),
                    (RenderTags.blueDescriptor, RenderTags.blueData, RenderTags.segmentedBlueData, "Blue")]
        var luts: [RenderLUT] = []
        var segmented = false
        for (descriptorTag, dataTag, segmentedTag, colour) in tags {
            guard let descriptor = ds[descriptorTag] else { return nil }
            // The first mapped value is US or SS as Pixel Representation says; palette indices
            // are unsigned in practice.
            let (count, first, bits) = try RenderLUT.descriptor(descriptor, bigEndian: ds.isBigEndian, signedInput: false,
                                                                name: "\(colour) Palette Color LUT Descriptor")
            var lut: RenderLUT
            if let element = ds[dataTag], let data = try load(element), !data.isEmpty {
                lut = try RenderLUT.table(data: data, vr: element.vr, count: count, bits: bits, bigEndian: ds.isBigEndian,
                                          name: "\(colour) Palette Color LUT Data")
            } else if let element = ds[segmentedTag], let data = try load(element), !data.isEmpty {
                let words = bits <= 8 ? data.map(Int.init) : BinaryValues.integers(data[...], vr: .US, bigEndian: ds.isBigEndian)
                let expanded = try expandSegments(words, bytesPerWord: bits <= 8 ? 1 : 2, maximumCount: count,
                                                  name: "Segmented \(colour) Palette Color LUT Data")
                lut = RenderLUT(firstMapped: 0, bits: bits, entries: expanded)
                segmented = true
            } else {
                throw DwcError(.decodeFailed, "PALETTE COLOR image without \(colour) Palette Color LUT Data")
            }
            lut.firstMapped = first
            luts.append(lut)
        }
        return PaletteLUT(red: luts[0], green: luts[1], blue: luts[2], segmented: segmented)
    }

    /// Expands segmented palette data (PS3.3 C.7.9.2): discrete (0), linear (1) and indirect (2)
    /// segments. Indirect segments copy earlier segments addressed by a byte offset; they may
    /// not nest.
    static func expandSegments(_ words: [Int], bytesPerWord: Int, maximumCount: Int, name: String) throws -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(maximumCount)
        func fail(_ why: String) -> DwcError { DwcError(.decodeFailed, "\(name): \(why)") }

        func run(from start: Int, segments limit: Int?, nested: Bool) throws {
            var i = start
            var done = 0
            while i < words.count, limit.map({ done < $0 }) ?? true {
                guard i + 1 < words.count else { throw fail("segment header cut off at word \(i)") }
                let opcode = words[i], length = words[i + 1]
                switch opcode {
                case 0:
                    guard i + 2 + length <= words.count else { throw fail("discrete segment of \(length) values cut off") }
                    out.append(contentsOf: words[(i + 2)..<(i + 2 + length)])
                    i += 2 + length
                case 1:
                    guard i + 2 < words.count else { throw fail("linear segment cut off") }
                    guard let y0 = out.last else { throw fail("linear segment without a previous value") }
                    let y1 = words[i + 2]
                    if length > 0 {
                        for k in 1...length {
                            out.append(Int((Double(y0) + Double(y1 - y0) * Double(k) / Double(length)).rounded()))
                        }
                    }
                    i += 3
                case 2:
                    guard !nested else { throw fail("indirect segment inside an indirect segment") }
                    guard i + 3 < words.count else { throw fail("indirect segment cut off") }
                    // The byte offset is 32 bits, least significant word first.
                    let offset = words[i + 2] | words[i + 3] << 16
                    let target = offset / bytesPerWord
                    guard target < i else { throw fail("indirect segment points forward (offset \(offset))") }
                    try run(from: target, segments: length, nested: true)
                    i += 4
                default:
                    throw fail("unknown segment type \(opcode) at word \(i)")
                }
                guard out.count <= 65536 else { throw fail("expands to more than 65536 entries") }
                done += 1
            }
        }
        try run(from: 0, segments: nil, nested: false)
        guard !out.isEmpty else { throw fail("no entries") }
        if out.count > maximumCount { out.removeLast(out.count - maximumCount) }
        return out
    }
}
