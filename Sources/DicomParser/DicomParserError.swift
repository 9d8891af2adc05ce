import DicomCore

/// Everything the reader and writer can fail with, with where it happened.
public struct DicomParserError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The source does not exist.
        case notFound
        /// The source exists but cannot be read.
        case cannotRead
        /// Not DICOM at all (no preamble, no plausible data set).
        case notDicom
        /// DICOM, but malformed or truncated.
        case invalid
        /// A real-world defect that lenient mode tolerates and strict mode rejects.
        case defect
        /// Valid DICOM that this reader cannot handle (e.g. deflate without an inflater).
        case unsupported
    }

    public let kind: Kind
    public let source: String
    public let offset: UInt64?
    public let tag: Tag?
    public let message: String

    public init(_ kind: Kind, source: String, offset: UInt64? = nil, tag: Tag? = nil, message: String) {
        self.kind = kind
        self.source = source
        self.offset = offset
        self.tag = tag
        self.message = message
    }

    /// `path: message (tag, offset N)`: one line, as the command line prints it.
    public var description: String {
        var where_: [String] = []
        if let tag { where_.append("tag \(tag)") }
        if let offset { where_.append("offset \(offset)") }
        return "\(source): \(message)" + (where_.isEmpty ? "" : " (\(where_.joined(separator: ", ")))")
    }
}

/// A defect the reader tolerated.
public struct ParseWarning: Sendable, CustomStringConvertible {
    public let offset: UInt64
    public let tag: Tag?
    public let message: String
    public var description: String {
        (tag.map { "\($0) " } ?? "") + "\(message) at offset \(offset)"
    }
}
