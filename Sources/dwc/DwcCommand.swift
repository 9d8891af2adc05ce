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
        discussion: """
        Exit status: 0 ok; 1 syntax; 20 cannot read input; 21 not found; 22 invalid input;
        23 no valid input; 25 bad input dir; 40 cannot write; 45 bad output dir; 80 index error;
        81 stale index; 82 unsupported transfer syntax; 83 decode failed; 84 frame out of range;
        85 encode failed. Messages go to stderr prefixed E: W: I: D:, data to stdout.
        """,
        version: versionText,
        subcommands: [DumpCommand.self, BenchCommand.self])

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
