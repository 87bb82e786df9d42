"""Mutations, one module each; the root Mutation type is assembled in graphql_schema.schema."""
