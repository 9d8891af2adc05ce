import DicomIndex
import DicomParser
import DicomRemote

/// Process exit codes, in dcmtk's ranges (docs/exit-codes.md lists them).
public enum ExitStatus: Int32, Sendable, CaseIterable {
    case ok = 0
    case syntax = 1
    case cannotReadInput = 20
    case noInput = 21
    case invalidInput = 22
    case noValidInput = 23
    case badInputDirectory = 25
    case cannotWriteOutput = 40
    case badOutputDirectory = 45
    case indexError = 80
    case staleIndex = 81
    case unsupportedTransferSyntax = 82
    case decodeFailed = 83
    case frameOutOfRange = 84
    case encodeFailed = 85

    public var meaning: String {
        switch self {
        case .ok: return "success (also: a search with no matches)"
        case .syntax: return "command-line syntax error, unknown option or query key"
        case .cannotReadInput: return "cannot read an input file or URL (403, timeout, network, 412)"
        case .noInput: return "no input, or the named file/UID/URL is not found (404)"
        case .invalidInput: return "an input file is not valid DICOM (batch: some inputs failed)"
        case .noValidInput: return "no input was valid (batch: all inputs failed)"
        case .badInputDirectory: return "an input directory cannot be read"
        case .cannotWriteOutput: return "cannot write output"
        case .badOutputDirectory: return "the output directory is missing or not writable"
        case .indexError: return "the index cannot be opened or written"
        case .staleIndex: return "the index was made by another schema: run dwc index --rebuild"
        case .unsupportedTransferSyntax: return "no codec for the transfer syntax"
        case .decodeFailed: return "a frame could not be decoded"
        case .frameOutOfRange: return "a frame number is out of range"
        case .encodeFailed: return "an image could not be encoded"
        }
    }
}

/// The one error type of DwcKit: a message (path, what, where) and the exit status it maps to.
public struct DwcError: Error, CustomStringConvertible, Sendable {
    public let status: ExitStatus
    public let message: String

    public init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }

    /// Maps errors of the lower modules to the exit status they mean.
    public init(_ error: any Error) {
        switch error {
        case let e as DwcError:
            self = e
        case let e as DicomParserError:
            switch e.kind {
            case .notFound: self.init(.noInput, e.description)
            case .cannotRead: self.init(.cannotReadInput, e.description)
            case .notDicom, .invalid, .defect: self.init(.invalidInput, e.description)
            case .unsupported: self.init(.unsupportedTransferSyntax, e.description)
            }
        case let e as IndexError:
            switch e.kind {
            case .database: self.init(.indexError, e.description)
            case .stale: self.init(.staleIndex, e.description)
            case .query: self.init(.syntax, e.description)
            }
        case let e as RemoteError:
            switch e.kind {
            // A URL that names nothing (404, an empty listing, or not a URL dwc reads) is like a missing file.
            case .notFound, .invalidURL: self.init(.noInput, e.description)
            // 403, 412 (changed since it was indexed, where re-indexing is not possible), short
            // reads, timeouts, connection and server errors: the input exists but cannot be read.
            case .forbidden, .changed, .shortRead, .timeout, .network, .server, .listing: self.init(.cannotReadInput, e.description)
            }
        default:
            self.init(.invalidInput, String(describing: error))
        }
    }
}
