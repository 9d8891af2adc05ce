import Testing
@testable import DicomCodecs

@Suite struct CodecLibrariesTests {
    /// The codec libraries are linked and answer with their versions (as `dwc --version` shows).
    @Test func linkedLibrariesReportTheirVersions() {
        let versions = CodecLibraries.versions
        for name in ["libjpeg-turbo", "OpenJPEG", "CharLS", "libpng"] {
            let version = versions.first { $0.name == name }?.version ?? ""
            #expect(version.first?.isNumber == true, "\(name): '\(version)'")
        }
    }
}
