import DicomCore
#if canImport(Glibc)
import Glibc
#endif

/// dcmdump's layout: `(gggg,eeee) VR value  # length, VM Keyword`, items indented.
struct TextDumpFormatter {
    private(set) var text = ""
    private let maxValueWidth = 64

    mutating func line(_ s: String) {
        text += s
        text += "\n"
    }

    mutating func dump(_ dataSet: DataSet, depth: Int) {
        let indent = String(repeating: "  ", count: depth)
        for element in dataSet.elements {
            let tag = element.tag.description.lowercased()
            let keyword = element.tag.isPrivateCreator ? "PrivateCreator" : (DataDictionary.keyword(for: element.tag).isEmpty ? "Unknown Tag & Data" : DataDictionary.keyword(for: element.tag))
            switch element.value {
            case .sequence(let items):
                let kind = element.hadUndefinedLength ? "undefined" : "explicit"
                line(row(indent, tag, "SQ", "(Sequence with \(kind) length #=\(items.count))", length: element.hadUndefinedLength ? "u/l" : "?", vm: 1, keyword: keyword))
                for item in items {
                    line(row(indent + "  ", "(fffe,e000)", "na", "(Item with #=\(item.count))", length: "?", vm: 1, keyword: "Item"))
                    dump(item, depth: depth + 2)
                    line(row(indent + "  ", "(fffe,e00d)", "na", "(ItemDelimitationItem)", length: "0", vm: 0, keyword: "ItemDelimitationItem"))
                }
                line(row(indent, "(fffe,e0dd)", "na", "(SequenceDelimitationItem)", length: "0", vm: 0, keyword: "SequenceDelimitationItem"))
            case .encapsulated(let pixels):
                line(row(indent, tag, element.vr.rawValue, "(PixelSequence #=\(pixels.fragments.count + 1))", length: "u/l", vm: 1, keyword: keyword))
                line(row(indent + "  ", "(fffe,e000)", "pi", "(offset table, \(pixels.basicOffsetTable.length) bytes)", length: String(pixels.basicOffsetTable.length), vm: 1, keyword: "Item"))
                let shown = pixels.fragments.prefix(8)
                for fragment in shown {
                    line(row(indent + "  ", "(fffe,e000)", "pi", "(fragment at offset \(fragment.offset))", length: String(fragment.length), vm: 1, keyword: "Item"))
                }
                if pixels.fragments.count > shown.count {
                    line(indent + "  # … \(pixels.fragments.count - shown.count) more fragments")
                }
                line(row(indent, "(fffe,e0dd)", "na", "(SequenceDelimitationItem)", length: "0", vm: 0, keyword: "SequenceDelimitationItem"))
            case .bulk(let ref):
                line(row(indent, tag, element.vr.rawValue, "(not loaded: \(ref.length) bytes at offset \(ref.offset))", length: String(ref.length), vm: 1, keyword: keyword))
            case .bytes(let bytes):
                let (value, vm) = Self.render(element, bytes: bytes, in: dataSet)
                line(row(indent, tag, element.vr.rawValue, value, length: String(bytes.count), vm: vm, keyword: keyword))
            }
        }
    }

    private func row(_ indent: String, _ tag: String, _ vr: String, _ value: String, length: String, vm: Int, keyword: String) -> String {
        var shown = value
        if shown.count > maxValueWidth { shown = String(shown.prefix(maxValueWidth - 3)) + "..." }
        let left = "\(indent)\(tag) \(vr) \(shown)"
        return left.rightPadded(to: 52) + " # " + length.leftPadded(to: 3, with: " ") + ", \(vm) \(keyword)"
    }

    /// A value as dcmdump shows it, and its value multiplicity.
    static func render(_ element: DataElement, bytes: [UInt8], in dataSet: DataSet) -> (String, Int) {
        if bytes.isEmpty { return ("(no value available)", 0) }
        let vr = element.vr
        if vr.isString {
            let values = element.strings(characterSet: dataSet.characterSet) ?? []
            return ("[" + values.joined(separator: "\\") + "]", values.count)
        }
        switch vr {
        case .US, .SS, .UL, .SL, .SV:
            let n = BinaryValues.integers(bytes[...], vr: vr, bigEndian: dataSet.isBigEndian)
            return (n.map(String.init).joined(separator: "\\"), n.count)
        case .UV:
            let n = BinaryValues.unsignedIntegers(bytes[...], bigEndian: dataSet.isBigEndian)
            return (n.map(String.init).joined(separator: "\\"), n.count)
        case .FL, .FD:
            let d = BinaryValues.reals(bytes[...], vr: vr, bigEndian: dataSet.isBigEndian)
            return (d.map { String($0) }.joined(separator: "\\"), d.count)
        case .AT:
            let t = BinaryValues.integers(bytes[...], vr: .AT, bigEndian: dataSet.isBigEndian)
            return (t.map { Tag(rawValue: UInt32(truncatingIfNeeded: $0)).description.lowercased() }.joined(separator: "\\"), t.count)
        case .OW:
            let words = BinaryValues.integers(bytes.prefix(64)[...], vr: .US, bigEndian: dataSet.isBigEndian)
            return (words.map { String($0, radix: 16).leftPadded(to: 4) }.joined(separator: "\\"), 1)
        default:
            return (bytes.prefix(40).map { String($0, radix: 16).leftPadded(to: 2) }.joined(separator: "\\"), 1)
        }
    }
}

func currentDirectory() -> String {
    guard let pointer = getcwd(nil, 0) else { return "." }
    defer { free(pointer) }
    return String(cString: pointer)
}
