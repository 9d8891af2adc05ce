import DicomCore
import Testing
@testable import DicomIndex

@Suite struct QueryAttributeTests {
    @Test func tagsAndVRsAgreeWithTheDictionary() throws {
        for attribute in QueryAttributes.all {
            let entry = try #require(DataDictionary.entry(keyword: attribute.keyword), "\(attribute.keyword)")
            #expect(entry.tag == attribute.tag, "\(attribute.keyword)")
            #expect(entry.vr == attribute.vr, "\(attribute.keyword)")
        }
    }

    @Test func columnsAreUniqueAndTheSignatureIsStable() {
        let columns = QueryAttributes.all.map { "\($0.level.rawValue).\($0.column)" }
        #expect(Set(columns).count == columns.count)
        #expect(QueryAttributes.signature == QueryAttributes.signature)
        #expect(!QueryAttributes.signature.isEmpty)
    }
}
