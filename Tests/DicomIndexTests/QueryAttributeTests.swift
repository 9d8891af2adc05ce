import DicomCore
import Testing
@testable import DicomIndex

@Suite struct QueryAttributeTests {
    @Test func tagsAndVRsAgreeWithTheDictionary() throws {
        for attribute in QueryAttributes.all {
            let entry = try #require(DataDictionary.entry(keyword: attribute.keyword), "\(attribute.keyword)")
            #expect(entry.tag == attribute.tag, "\(attribute.keyword)")
            #expect(entry.vr == attribute.vr, "\(attribute.keyword)")
            #expect((entry.vm != "1") == attribute.isMultiValued, "\(attribute.keyword)")
        }
    }

    /// Search keys carry keyword, VR and multiplicity without the dictionary: they must agree.
    @Test func searchKeysAgreeWithTheDictionary() throws {
        for key in SearchKeys.all {
            let entry = try #require(DataDictionary.entry(for: key.tag), "\(key.keyword)")
            #expect(entry.keyword == key.keyword)
            #expect(entry.vr == key.vr, "\(key.keyword)")
            #expect((entry.vm != "1") == key.isMultiValued, "\(key.keyword)")
            #expect(SearchKeys.tag(keyword: key.keyword) == key.tag)
        }
    }

    @Test func columnsAreUniqueAndTheSignatureIsStable() {
        let columns = QueryAttributes.all.map { "\($0.level.rawValue).\($0.column)" }
        #expect(Set(columns).count == columns.count)
        #expect(QueryAttributes.signature == QueryAttributes.signature)
        #expect(!QueryAttributes.signature.isEmpty)
    }
}
