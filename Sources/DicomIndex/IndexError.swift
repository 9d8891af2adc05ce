/// Errors of the index layer: SQLite failures with the statement and file they concern.
public struct IndexError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The file is not an SQLite database, or cannot be opened or written.
        case database
        /// The index was made by another schema or attribute set: run dwc index --rebuild.
        case stale
        /// A query key, level or value that the index cannot answer.
        case query
    }

    public let kind: Kind
    public let path: String
    public let message: String

    public init(_ kind: Kind, path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
