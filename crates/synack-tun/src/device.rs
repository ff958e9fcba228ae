//! The packet device the runtime drives: whole IP packets in and out, in batches.
//! (Placeholder: the runtime helper defines the trait here first.)
