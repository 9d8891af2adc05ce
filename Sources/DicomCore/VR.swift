/// Value Representations of PS3.5 §6.2 (current edition, including OV, SV, UV).
public enum VR: String, CaseIterable, Sendable {
    case AE, AS, AT, CS, DA, DS, DT, FD, FL, IS, LO, LT, OB, OD, OF, OL, OV, OW
    case PN, SH, SL, SQ, SS, ST, SV, TM, UC, UI, UL, UN, UR, US, UT, UV

    /// The VR named by two bytes of an explicit VR element header, if they name one. A switch
    /// on the two bytes as one number: the parser asks once per element, and a table lookup
    /// cost it a lazy global's check and a call each time.
    @inlinable
    public init?(byte0: UInt8, byte1: UInt8) {
        switch UInt16(byte0) << 8 | UInt16(byte1) {
        case 0x4145: self = .AE
        case 0x4153: self = .AS
        case 0x4154: self = .AT
        case 0x4353: self = .CS
        case 0x4441: self = .DA
        case 0x4453: self = .DS
        case 0x4454: self = .DT
        case 0x4644: self = .FD
        case 0x464C: self = .FL
        case 0x4953: self = .IS
        case 0x4C4F: self = .LO
        case 0x4C54: self = .LT
        case 0x4F42: self = .OB
        case 0x4F44: self = .OD
        case 0x4F46: self = .OF
        case 0x4F4C: self = .OL
        case 0x4F56: self = .OV
        case 0x4F57: self = .OW
        case 0x504E: self = .PN
        case 0x5348: self = .SH
        case 0x534C: self = .SL
        case 0x5351: self = .SQ
        case 0x5353: self = .SS
        case 0x5354: self = .ST
        case 0x5356: self = .SV
        case 0x544D: self = .TM
        case 0x5543: self = .UC
        case 0x5549: self = .UI
        case 0x554C: self = .UL
        case 0x554E: self = .UN
        case 0x5552: self = .UR
        case 0x5553: self = .US
        case 0x5554: self = .UT
        case 0x5556: self = .UV
        default: return nil
        }
    }

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
