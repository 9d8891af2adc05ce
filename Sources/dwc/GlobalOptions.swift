import ArgumentParser
import DwcKit

/// Options every command takes (GUIDE §3).
struct GlobalOptions: ParsableArguments {
    @Option(name: [.customShort("A"), .long], help: ArgumentHelp("Archive root (env DWC_ARCHIVE, default .).", valueName: "dir"))
    var archive: String?

    @Option(help: ArgumentHelp("Index file (default <archive>/.dwc/index.sqlite).", valueName: "file"))
    var index: String?

    @Flag(name: .shortAndLong, help: "Quiet: errors only.")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Verbose: also informational messages (repeatable).")
    var verbose: Int

    @Flag(name: .shortAndLong, help: "Debug messages.")
    var debug = false

    @Option(name: .long, help: ArgumentHelp("Log level: fatal, error, warn, info, debug, trace.", valueName: "level"))
    var logLevel: String?

    @Option(help: ArgumentHelp("Seconds allowed per request to a URL (https://, s3://, gs://; default 30).", valueName: "seconds"))
    var timeout: Double?

    @Option(help: ArgumentHelp("S3-compatible server for s3:// URLs, addressed path style (env AWS_ENDPOINT_URL_S3).", valueName: "url"))
    var s3Endpoint: String?

    var location: ArchiveLocation { ArchiveLocation(archive: archive, index: index) }

    func apply() throws {
        var level = quiet ? -1 : min(verbose, 2)
        if debug { level = 2 }
        if let logLevel {
            switch logLevel.lowercased() {
            case "fatal", "error": level = -1
            case "warn", "warning": level = 0
            case "info": level = 1
            case "debug", "trace": level = 2
            default: throw ValidationError("unknown --log-level '\(logLevel)' (fatal, error, warn, info, debug, trace)")
            }
        }
        Output.verbosity = level
        if let timeout, !(timeout > 0 && timeout.isFinite) { throw ValidationError("--timeout must be a positive number of seconds") }
        RemoteAccess.configure(timeout: timeout, s3Endpoint: s3Endpoint)
    }
}
