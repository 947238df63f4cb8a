/// A payout currency and its on-chain unit.
public enum Currency: String, Sendable, Codable, CaseIterable {
    case trx = "TRX"
    case usdt = "USDT"

    /// Both have 6 decimals: 1 TRX = 1,000,000 sun; 1 USDT = 1,000,000 base units.
    public var decimals: Int { 6 }
}

/// An exact amount in base units (sun, or USDT's 10⁻⁶).
public struct Amount: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let baseUnits: Int64

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init(baseUnits: Int64) { self.baseUnits = baseUnits }

    /// From a decimal string such as "125.5" or "0.000001". Refuses signs, exponents, more
    /// fraction digits than the currency has, zero, and values past Int64 base units.
    public init(decimal text: String, currency: Currency) throws(ParseError) {
        let parts = text.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard !text.isEmpty, parts.count <= 2,
              parts.allSatisfy({ $0.allSatisfy { $0 >= "0" && $0 <= "9" } }),
              !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else {
            throw ParseError(description: "\"\(text)\" is not a decimal amount like 125.50 (digits, at most one point, no sign)")
        }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= currency.decimals else {
            throw ParseError(description: "\"\(text)\" has \(fraction.count) decimals; \(currency.rawValue) has \(currency.decimals)")
        }
        let digits = String(parts[0]) + fraction + String(repeating: "0", count: currency.decimals - fraction.count)
        let trimmed = digits.drop { $0 == "0" }
        guard trimmed.count <= 19, let units = Int64(trimmed.isEmpty ? "0" : String(trimmed)) else {
            throw ParseError(description: "\"\(text)\" is too large")
        }
        guard units > 0 else { throw ParseError(description: "the amount must be greater than zero") }
        baseUnits = units
    }

    /// The decimal text with `decimals` places trimmed of trailing zeros ("125.5").
    public func decimalString(decimals: Int = 6) -> String {
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let whole = baseUnits / scale
        var fraction = String(baseUnits % scale)
        fraction = String(repeating: "0", count: decimals - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        return fraction.isEmpty ? String(whole) : "\(whole).\(fraction)"
    }

    public var description: String { decimalString() }
    public static func < (a: Amount, b: Amount) -> Bool { a.baseUnits < b.baseUnits }
}
