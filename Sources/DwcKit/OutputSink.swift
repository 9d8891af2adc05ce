/// Where an operation's results go: data, warnings and per-file errors. The command line gives
/// stdout and stderr; tests can collect them.
public struct OutputSink: Sendable {
    public var write: @Sendable ([UInt8]) -> Void
    public var warning: @Sendable (String) -> Void
    public var error: @Sendable (String) -> Void

    public init(write: @escaping @Sendable ([UInt8]) -> Void, warning: @escaping @Sendable (String) -> Void,
                error: @escaping @Sendable (String) -> Void) {
        self.write = write
        self.warning = warning
        self.error = error
    }
}
