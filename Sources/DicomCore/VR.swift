/// Value Representations of PS3.5 §6.2 (current edition, including OV, SV, UV).
public enum VR: String, CaseIterable, Sendable {
    case AE, AS, AT, CS, DA, DS, DT, FD, FL, IS, LO, LT, OB, OD, OF, OL, OV, OW
    case PN, SH, SL, SQ, SS, ST, SV, TM, UC, UI, UL, UN, UR, US, UT, UV

    /// The VR named by two bytes of an explicit VR element header, if they name one.
    @inlinable  // the parser asks once per element
    public init?(byte0: UInt8, byte1: UInt8) {
        guard byte0 >= 0x41, byte0 <= 0x5A, byte1 >= 0x41, byte1 <= 0x5A,
              let vr = VR.byLetters[Int(byte0 - 0x41) * 26 + Int(byte1 - 0x41)] else { return nil }
        self = vr
    }

    /// Every VR by its two letters (A-Z × A-Z): the parser asks once per element, so no strings.
    @usableFromInline static let byLetters: [VR?] = {
        var table = [VR?](repeating: nil, count: 26 * 26)
        for vr in VR.allCases {
            let letters = Array(vr.rawValue.utf8)
            table[Int(letters[0] - 0x41) * 26 + Int(letters[1] - 0x41)] = vr
        }
        return table
    }()

    public var bytes: (UInt8, UInt8) {
        let utf8 = Array(rawValue.utf8)
        return (utf8[0], utf8[1])
    }

    /// Explicit VR headers of these VRs have 2 reserved bytes and a 32-bit length (PS3.5 §7.1.2).
    public var hasLongLength: Bool {
        switch self {
        case .OB, .OD, .OF, .OL, .OV, .OW, .SQ, .SV, .UC, .UN, .UR, .UT, .UV: return true
        default: return false
        }
    }

    /// Character strings: values are text, several values separated by backslash
    /// (except LT, ST, UT, UR which hold one value that may contain backslashes).
    public var isString: Bool {
        switch self {
        case .AE, .AS, .CS, .DA, .DS, .DT, .IS, .LO, .LT, .PN, .SH, .ST, .TM, .UC, .UI, .UR, .UT: return true
        default: return false
        }
    }

    /// Text VRs that are a single value: a backslash is part of the text.
    public var isSingleValuedText: Bool { self == .LT || self == .ST || self == .UT || self == .UR }

    /// VRs whose text is in the Specific Character Set; all others are the default repertoire.
    public var usesSpecificCharacterSet: Bool {
        switch self {
        case .LO, .LT, .PN, .SH, .ST, .UC, .UT: return true
        default: return false
        }
    }

    /// Byte strings with no structure the parser needs: candidates for bulk data.
    public var isBinary: Bool {
        switch self {
        case .OB, .OD, .OF, .OL, .OV, .OW, .UN: return true
        default: return false
        }
    }

    /// Size of one binary number of this VR (0 for non-numeric VRs).
    public var numericWidth: Int {
        switch self {
        case .US, .SS, .OW: return 2
        case .UL, .SL, .FL, .OL, .OF, .AT: return 4
        case .FD, .OD, .SV, .UV, .OV: return 8
        default: return 0
        }
    }

    /// The byte that pads a string value to even length: NUL for UI, space for other text.
    public var paddingByte: UInt8 { self == .UI ? 0 : (isString ? 0x20 : 0) }
}
