import DicomCore

/// Where `dwc store` puts an instance inside the archive: a template of literal path components
/// and placeholders, expanded with validated UIDs and sanitised attribute values only, so that no
/// input can name a path outside the archive (no `..`, no absolute path, no hidden component).
public struct StoreLayout: Sendable, Equatable {
    public static let defaultTemplate = "studies/{study}/series/{series}/instances/{sop}.dcm"
    public static let placeholders = ["study", "series", "sop", "modality", "patient_id"]

    public let template: String
    /// Path components, each a list of literal text and placeholders.
    private let components: [[Part]]

    private enum Part: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    /// The values a layout is expanded with. UIDs must be valid (UIDRegistry.isValid); the others
    /// are sanitised here.
    public struct Values: Sendable {
        public var study: String
        public var series: String
        public var sop: String
        public var modality: String?
        public var patientID: String?

        public init(study: String, series: String, sop: String, modality: String? = nil, patientID: String? = nil) {
            self.study = study
            self.series = series
            self.sop = sop
            self.modality = modality
            self.patientID = patientID
        }
    }

    /// Parses and checks a template: relative, components of `[A-Za-z0-9._-]` and placeholders,
    /// none empty, `.` or `..` or starting with a dot, and `{sop}` somewhere (one file per instance).
    public init(template: String = StoreLayout.defaultTemplate) throws {
        func invalid(_ why: String) -> DwcError { DwcError(.syntax, "--layout '\(template)': \(why)") }
        guard !template.hasPrefix("/") else { throw invalid("must be relative to the archive") }
        var components: [[Part]] = []
        for text in template.split(separator: "/", omittingEmptySubsequences: false) {
            guard !text.isEmpty else { throw invalid("empty path component") }
            var parts: [Part] = []
            var rest = Substring(text)
            while !rest.isEmpty {
                if rest.first == "{" {
                    guard let close = rest.firstIndex(of: "}") else { throw invalid("unclosed {") }
                    let name = String(rest[rest.index(after: rest.startIndex)..<close])
                    guard Self.placeholders.contains(name) else {
                        throw invalid("unknown placeholder {\(name)} (known: \(Self.placeholders.map { "{\($0)}" }.joined(separator: ", ")))")
                    }
                    parts.append(.placeholder(name))
                    rest = rest[rest.index(after: close)...]
                } else {
                    let end = rest.firstIndex(of: "{") ?? rest.endIndex
                    let literal = String(rest[..<end])
                    guard literal.utf8.allSatisfy(Self.isSafe) else {
                        throw invalid("literal text may only use letters, digits, '.', '_' and '-'")
                    }
                    parts.append(.literal(literal))
                    rest = rest[end...]
                }
            }
            if case .literal(let first) = parts[0], first.hasPrefix(".") {
                throw invalid("a path component may not start with '.' (hidden, or '..')")
            }
            components.append(parts)
        }
        guard components.contains(where: { $0.contains(.placeholder("sop")) }) else {
            throw invalid("must contain {sop}, so that every instance has its own file")
        }
        self.template = template
        self.components = components
    }

    /// The path relative to the archive root. UIDs must have been validated; other values are
    /// reduced to `[A-Za-z0-9._-]` (others become `_`), at most 64 characters, a leading dot
    /// becomes `_`, and an empty value becomes `UNKNOWN`.
    public func relativePath(for values: Values) -> String {
        components.map { parts in
            var text = ""
            for part in parts {
                switch part {
                case .literal(let literal): text += literal
                case .placeholder("study"): text += values.study
                case .placeholder("series"): text += values.series
                case .placeholder("sop"): text += values.sop
                case .placeholder("modality"): text += Self.sanitised(values.modality)
                case .placeholder("patient_id"): text += Self.sanitised(values.patientID)
                case .placeholder: break
                }
            }
            // A component can only start with a dot through a value; a UID never does.
            if text.hasPrefix(".") { text = "_" + text.dropFirst() }
            return text
        }.joined(separator: "/")
    }

    /// The folder part and the file name of a relative path.
    public static func split(_ relativePath: String) -> (folder: [String], name: String) {
        let parts = relativePath.split(separator: "/").map(String.init)
        return (Array(parts.dropLast()), parts.last ?? "")
    }

    static func isSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// A free-text value made safe for one path component.
    public static func sanitised(_ value: String?) -> String {
        let trimmed = (value ?? "").trimmingCharacters(in: " ")
        var bytes = trimmed.utf8.map { isSafe($0) ? $0 : UInt8(ascii: "_") }
        if bytes.count > 64 { bytes = Array(bytes.prefix(64)) }
        if bytes.isEmpty { return "UNKNOWN" }
        if bytes[0] == UInt8(ascii: ".") { bytes[0] = UInt8(ascii: "_") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
