import ArgumentParser
import DwcKit
#if canImport(Glibc)
import Glibc
#endif

@main
struct DwcCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dwc",
        abstract: "DICOMweb for the shell: index, search, retrieve and render DICOM files on disk.",
        discussion: "Data goes to stdout, messages to stderr prefixed E: W: I: D:.\n\nExit status:\n"
            + ExitStatus.allCases.map { "  \(String($0.rawValue).padding(3)) \($0.meaning)" }.joined(separator: "\n"),
        subcommands: [IndexCommand.self, StoreCommand.self, SearchCommand.self, RetrieveFramesCommand.self, MetadataCommand.self, RetrieveCommand.self, RetrieveBulkDataCommand.self, RenderCommand.self, DumpCommand.self, BenchCommand.self])

    // Not ArgumentParser's `version:`, which is computed at every start: asking each library its
    // version loads CharLS (loaded on first use: about 3 M instructions of start-up).
    @Flag(name: .long, help: "Show the version of dwc and of the libraries it uses.")
    var version = false

    func run() throws {
        guard version else { throw CleanExit.helpRequest(self) }
        Output.write(Self.versionText + "\n")
    }

    static var versionText: String {
        var lines = ["dwc \(DwcKit.version)"]
        for library in LinkedLibraries.versions { lines.append("  \(library.name) \(library.version)") }
        return lines.joined(separator: "\n")
    }

    /// ArgumentParser's own exit codes are remapped to dwc's: usage errors are 1, not 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
            Output.flush()
        } catch let error as ExitCode {
            Output.flush()
            Glibc.exit(error.rawValue)
        } catch let error as DwcError {
            Output.flush()
            Output.error(error.message)
            Glibc.exit(error.status.rawValue)
        } catch {
            Output.flush()
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                print(message)
                Glibc.exit(0)
            }
            if !message.isEmpty { Output.standardError(message + "\n") }
            Glibc.exit(code == .validationFailure ? ExitStatus.syntax.rawValue : code.rawValue)
        }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
