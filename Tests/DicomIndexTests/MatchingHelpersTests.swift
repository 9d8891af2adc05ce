import Testing
@testable import DicomIndex

/// The byte-level helpers the planner builds SQL with (SearchTests checks the matching itself
/// end to end on an index).
@Suite struct MatchingHelpersTests {
    @Test func prefixRangeCoversTheLiteralPrefix() throws {
        #expect(try #require(Matching.prefixRange("Doe*")) == ("Doe", "Dof"))
        #expect(try #require(Matching.prefixRange("ab?c*")) == ("ab", "ac"))
        // DEL's successor is U+0080 (two UTF-8 bytes), not a lone 0x80 byte.
        #expect(try #require(Matching.prefixRange("a\u{7F}*")) == ("a\u{7F}", "a\u{80}"))
        // Non-ASCII prefixes step the last scalar.
        #expect(try #require(Matching.prefixRange("šim*")) == ("šim", "šin"))
        #expect(try #require(Matching.prefixRange("山*")) == ("山", "\u{5C72}"))
        #expect(Matching.prefixRange("*x") == nil)
        #expect(Matching.prefixRange("?") == nil)
    }

    @Test func globPatternsEscapeOnlyWhatGlobReads() {
        #expect(Matching.globPattern("T1_MPRAGE*") == "T1_MPRAGE*")
        #expect(Matching.globPattern("a[b]*") == "a[[]b]*")
        #expect(Matching.globLiteral("100%?*[") == "100%[?][*][[]")
        #expect(Matching.globLiteral("Šimková") == "Šimková")
    }

    @Test func listsWildcardsAndUniversalValues() {
        #expect(Matching.alternatives("CT\\MR\\\\US") == ["CT", "MR", "US"])
        #expect(Matching.alternatives("") == [])
        #expect(Matching.alternatives("Ř") == ["Ř"])
        #expect(Matching.isUniversal("") && Matching.isUniversal("**") && !Matching.isUniversal("*a"))
        #expect(Matching.hasWildcard("a?") && Matching.hasWildcard("*") && !Matching.hasWildcard("a%_"))
    }

    @Test func datesAreEightAsciiDigits() {
        #expect(ValueNormalizer.date("20240131") == "20240131")
        #expect(ValueNormalizer.date(" 2024.01.31 ") == "20240131")
        #expect(ValueNormalizer.date("２０２４０１３１") == nil)  // full-width digits are not DA
        #expect(ValueNormalizer.date("2024013") == nil)
        #expect(ValueNormalizer.date("202401311") == nil)
        #expect(ValueNormalizer.date("2024 0131") == nil)
        #expect(Matching.isPlausibleDate("20241231") && !Matching.isPlausibleDate("20241301") && !Matching.isPlausibleDate("20240100"))
    }
}
