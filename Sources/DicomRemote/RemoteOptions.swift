import Glibc

/// AWS credentials for Signature V4, as the AWS tools read them from the environment.
public struct S3Credentials: Sendable, Equatable {
    public var accessKeyId: String
    public var secretAccessKey: String
    /// Temporary credentials (STS) carry a session token sent as X-Amz-Security-Token.
    public var sessionToken: String?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// How requests are made: per-request timeout, retries, endpoints, credentials.
public struct RemoteOptions: Sendable {
    /// Seconds per request (connect + transfer); `--timeout`.
    public var timeout: Double
    /// Further attempts after a 5xx answer, a timeout or a connection error, with exponential
    /// backoff (0.1 s, 0.2 s, 0.4 s… capped at 5 s).
    public var retries: Int
    /// `--s3-endpoint URL`: an S3-compatible server (MinIO, moto…) addressed path style,
    /// `ENDPOINT/bucket/key`. nil → AWS, virtual-hosted `https://bucket.s3.REGION.amazonaws.com/key`.
    public var s3Endpoint: String?
    /// Where gs:// objects are read (the GCS XML API); tests point it at a loopback server.
    public var gcsEndpoint: String?
    /// The region signed into SigV4 requests and used in AWS host names.
    public var region: String
    /// nil → unsigned (anonymous) requests.
    public var credentials: S3Credentials?

    public init(timeout: Double = 30, retries: Int = 3, s3Endpoint: String? = nil, gcsEndpoint: String? = nil,
                region: String = "us-east-1", credentials: S3Credentials? = nil) {
        self.timeout = timeout
        self.retries = retries
        self.s3Endpoint = s3Endpoint
        self.gcsEndpoint = gcsEndpoint
        self.region = region
        self.credentials = credentials
    }

    /// Options with credentials and region from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION, and the S3 endpoint from
    /// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL when `s3Endpoint` is not given.
    /// Credentials are used only when both the key id and the secret are set and non-empty.
    public static func fromEnvironment(_ environment: [String: String] = processEnvironment(),
                                       timeout: Double = 30, retries: Int = 3,
                                       s3Endpoint: String? = nil, gcsEndpoint: String? = nil) -> RemoteOptions {
        func value(_ name: String) -> String? {
            guard let v = environment[name], !v.isEmpty else { return nil }
            return v
        }
        var credentials: S3Credentials?
        if let id = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") {
            credentials = S3Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"))
        }
        return RemoteOptions(timeout: timeout, retries: retries,
                             s3Endpoint: s3Endpoint ?? value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL"),
                             gcsEndpoint: gcsEndpoint,
                             region: value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1",
                             credentials: credentials)
    }
}

/// The process's environment variables (what Foundation's ProcessInfo gives, without Foundation:
/// linking it added tens of megabytes and a slower start to every dwc command).
public func processEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        entry += 1
    }
    return result
}
