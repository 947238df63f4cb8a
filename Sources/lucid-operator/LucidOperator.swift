import ArgumentParser
import LucidAPI

@main
struct LucidOperator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lucid-operator",
        abstract: "The Lucid operator: Kubernetes controllers for the Lucid service mesh and TRON payouts.",
        subcommands: [RunCommand.self, DevCommand.self, CRDsCommand.self, ValidateCommand.self, RenderCommand.self, WhoCanCallCommand.self])
}

struct CRDsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crds",
        abstract: "Print the Lucid CustomResourceDefinitions (the four resources and TronPayoutApproval) as one multi-document YAML.",
        discussion: "Apply them with `lucid-operator crds | kubectl apply -f -`. crds/ in the repository holds this output.")

    func run() throws {
        print(try CRDs.yaml(), terminator: "")
    }
}
