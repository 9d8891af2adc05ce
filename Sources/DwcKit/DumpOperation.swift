import DicomCore
import DicomParser

/// `dwc dump`: a file's elements as dcmdump-like text or as DICOM JSON.
public struct DumpOperation: Sendable {
    public enum Format: String, Sendable, CaseIterable { case text, json }

    public var format: Format = .text
    public var inlineThreshold = 1024
    public var pretty = true

    public init(format: Format = .text, inlineThreshold: Int = 1024, pretty: Bool = true) {
        self.format = format
        self.inlineThreshold = inlineThreshold
        self.pretty = pretty
    }

    /// The DICOM JSON object of the file's data set (file meta excluded). Values above the inline
    /// threshold become BulkDataURIs naming `path` (nil for stdin: they are left out then).
    public func json(_ file: DicomFile, path: String?, writer: inout JSONWriter) throws {
        var options = DicomJSONOptions(inlineThreshold: inlineThreshold, pretty: pretty)
        options.loadValue = { element in try Self.valueBytes(of: element, in: file) }
        if let path, path != "-" {
            // Deflated files are parsed from an inflated copy: their offsets are in that copy.
            let base = BulkDataURI.fileURI(path: path)
            let inflated = file.transferSyntax.isDeflated
            options.bulkDataURI = { element in
                let (offset, length) = Self.span(of: element)
                return BulkDataURI.make(base: base, offset: offset, length: length, inflated: inflated)
            }
        }
        do {
            try DicomJSONEncoder(options: options).write(file.dataSet, to: &writer)
        } catch {
            throw DwcError(error)
        }
    }

    /// Where an element's value lies in the source: for encapsulated pixel data, the whole item
    /// sequence, as a Part 10 file stores it.
    static func span(of element: DataElement) -> (offset: UInt64, length: UInt64) {
        switch element.value {
        case .bulk(let ref): return (ref.offset, ref.length)
        case .encapsulated(let pixels): return (element.valueOffset, pixels.endOffset - element.valueOffset)
        case .bytes(let b): return (element.valueOffset, UInt64(b.count))
        case .sequence: return (element.valueOffset, 0)
        }
    }

    static func valueBytes(of element: DataElement, in file: DicomFile) throws -> [UInt8] {
        switch element.value {
        case .bytes(let b): return b
        case .sequence: return []
        case .bulk, .encapsulated:
            let (offset, length) = span(of: element)
            return try file.load(BulkReference(offset: offset, length: length))
        }
    }

    public func text(_ file: DicomFile, path: String) -> String {
        var out = TextDumpFormatter()
        out.line("# Dicom-File-Format")
        if !file.fileMeta.isEmpty {
            out.line("")
            out.line("# Dicom-Meta-Information-Header")
            out.line("# Used TransferSyntax: Little Endian Explicit")
            out.dump(file.fileMeta, depth: 0)
        }
        out.line("")
        out.line("# Dicom-Data-Set")
        out.line("# Used TransferSyntax: \(file.transferSyntax.name)\(file.transferSyntaxInferred ? " (inferred)" : "")")
        out.dump(file.dataSet, depth: 0)
        if let stop = file.stopOffset {
            out.line("# stopped before pixel data at offset \(stop)")
        }
        return out.text
    }
}

enum BulkDataURI {
    /// `file:///abs/path` with the path percent-encoded; a URL (https://, s3://, gs://) as it is.
    static func fileURI(path: String) -> String {
        if RemoteAccess.isRemote(path) { return path }
        var absolute = path
        if !absolute.hasPrefix("/") {
            absolute = currentDirectory() + "/" + path
        }
        var out = Array("file://".utf8)
        out.reserveCapacity(out.count + absolute.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in absolute.utf8 {
            let safe = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
            if safe {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func make(base: String, offset: UInt64, length: UInt64, inflated: Bool) -> String {
        // A presigned URL already has a query: the span joins it.
        "\(base)\(base.contains("?") ? "&" : "?")offset=\(offset)&length=\(length)" + (inflated ? "&inflated=1" : "")
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
    func rightPadded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
