/// Everything the remote byte sources can fail with, naming the URL the user wrote.
public struct RemoteError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Not a URL this module reads (scheme, bucket name, empty key…).
        case invalidURL
        /// HTTP 404 (or the listing found nothing).
        case notFound
        /// HTTP 401/403: private object without (or with wrong) credentials.
        case forbidden
        /// HTTP 412: the object no longer has the ETag it was read (or indexed) with.
        case changed
        /// The server sent fewer bytes than it announced or than the range asked for.
        case shortRead
        /// The request did not finish within the timeout, after the retries.
        case timeout
        /// Connection refused, reset, DNS, TLS… after the retries.
        case network
        /// HTTP 5xx after the retries, or another unexpected status.
        case server
        /// A ListObjectsV2 answer that cannot be read.
        case listing
    }

    public let kind: Kind
    /// The URL as the user wrote it (s3://…, gs://…, https://…).
    public let url: String
    /// The HTTP status, when there was an answer.
    public let status: Int?
    public let message: String

    public init(_ kind: Kind, url: String, status: Int? = nil, message: String) {
        self.kind = kind
        self.url = url
        self.status = status
        self.message = message
    }

    /// `URL: message (HTTP status)`: one line, as the command line prints it.
    public var description: String {
        "\(url): \(message)" + (status.map { " (HTTP \($0))" } ?? "")
    }
}
