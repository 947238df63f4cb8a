import Foundation

extension JSON {
    /// Decodes a typed value (Codable) from this JSON value.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(serialized()))
    }

    /// The JSON value of an encodable value.
    public static func encode<T: Encodable>(_ value: T) throws -> JSON {
        try JSON.parse(Array(JSONEncoder().encode(value)))
    }
}
