// The one list of app commands: build.rs declares them in the ACL
// manifest, capabilities/default.json grants each, and lib.rs registers
// them. A command missing here is refused at run time.
&["app_status", "sign_in", "sign_out", "list_documents"]
