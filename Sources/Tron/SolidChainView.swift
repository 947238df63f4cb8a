/// A transaction's receipt from the solidity endpoint: in an irreversible block.
public struct SolidReceipt: Sendable, Equatable {
    public var info: TransactionInfo
    /// `ret[0].contractRet` of the transaction (what TRX transfers are judged by).
    public var contractRet: String?

    public init(info: TransactionInfo, contractRet: String?) {
        self.info = info
        self.contractRet = contractRet
    }
}

/// What the solid chain says, read in the order that makes an absence mean something: the
/// latest solid block first, then the txID's receipt. A receipt absent after a head whose time
/// is past the transaction's expiration proves it can never land: any block holding it would be
/// older than that head, hence already solid.
public struct SolidChainView: Sendable, Equatable {
    /// The latest solid block, read before `receipt`.
    public var head: BlockHeader
    /// The txID asked about, if any.
    public var txID: String?
    /// Its solid receipt; nil while it is in no solid block.
    public var receipt: SolidReceipt?

    public init(head: BlockHeader, txID: String? = nil, receipt: SolidReceipt? = nil) {
        self.head = head
        self.txID = txID
        self.receipt = receipt
    }
}

extension TronGridClient {
    /// Reads the latest solid block, then (when `txID` is given) its solid receipt: only
    /// `/walletsolidity/...` endpoints.
    public func solidView(of txID: String? = nil) async throws(TronGridError) -> SolidChainView {
        let head = try await nowBlock(solid: true)
        guard let txID else { return SolidChainView(head: head) }
        guard let info = try await transactionInfo(id: txID, solid: true) else { return SolidChainView(head: head, txID: txID) }
        let contractRet = try await transaction(id: txID, solid: true).contractRet
        return SolidChainView(head: head, txID: txID, receipt: SolidReceipt(info: info, contractRet: contractRet))
    }
}
