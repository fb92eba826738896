//! `#[derive(Struct)]`: a Rust struct as a record stored in a Redis hash, the way RedPipe's
//! `Struct` stores it. Used through `redpipe` or `redpipe-core` (feature `derive`); see
//! `redpipe_core::record` for what the generated code does.
//!
//! ```text
//! #[derive(Struct)]
//! #[redpipe(keyspace = "U", connection = "users", ttl = 3600, load = "defined")]
//! struct User {
//!     #[redpipe(key)]
//!     user_id: String,                    // in the key U{...}, not in the hash
//!     name: String,                       // required member, text
//!     #[redpipe(rename = "lastSeen")]
//!     last_seen: Option<i64>,             // optional member, integer
//!     #[redpipe(codec = redpipe::keyspace::Ascii)]
//!     code: String,                       // a codec of your choice
//!     #[redpipe(extra)]
//!     rest: BTreeMap<String, String>,     // members not declared above
//! }
//! ```
//!
//! Struct attributes: `keyspace` (default: the struct's name, as RedPipe), `connection`
//! (default: the default one), `ttl` (seconds, refreshed by every write), `load` (`"all"`,
//! the default, or `"defined"`), `crate` (the path to `redpipe-core` when it is neither a
//! dependency named `redpipe` nor `redpipe-core`).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::{
    Data, DeriveInput, Fields, GenericArgument, Ident, LitInt, LitStr, Path, PathArguments, Type,
    parse_macro_input,
};

/// Implements `Struct` for a struct with named fields; see the crate docs.
#[proc_macro_derive(Struct, attributes(redpipe))]
pub fn derive_struct(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// What the struct's `#[redpipe(...)]` says.
struct StructAttrs {
    keyspace: String,
    connection: String,
    ttl: Option<i64>,
    load_defined: bool,
    krate: Option<Path>,
}

/// What a field's `#[redpipe(...)]` says.
#[derive(Default)]
struct FieldAttrs {
    key: bool,
    extra: bool,
    rename: Option<String>,
    codec: Option<Path>,
}

fn struct_attrs(input: &DeriveInput) -> syn::Result<StructAttrs> {
    let mut attrs = StructAttrs {
        keyspace: input.ident.to_string(),
        connection: String::new(),
        ttl: None,
        load_defined: false,
        krate: None,
    };
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("redpipe")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("keyspace") {
                attrs.keyspace = meta.value()?.parse::<LitStr>()?.value();
            } else if meta.path.is_ident("connection") {
                attrs.connection = meta.value()?.parse::<LitStr>()?.value();
            } else if meta.path.is_ident("ttl") {
                let ttl: LitInt = meta.value()?.parse()?;
                let secs = ttl.base10_parse::<i64>()?;
                if secs <= 0 {
                    return Err(syn::Error::new(ttl.span(), "ttl is seconds, above 0"));
                }
                attrs.ttl = Some(secs);
            } else if meta.path.is_ident("load") {
                let load: LitStr = meta.value()?.parse()?;
                attrs.load_defined = match load.value().as_str() {
                    "all" => false,
                    "defined" => true,
                    _ => {
                        return Err(syn::Error::new(
                            load.span(),
                            "load is \"all\" or \"defined\"",
                        ));
                    }
                };
            } else if meta.path.is_ident("crate") {
                attrs.krate = Some(meta.value()?.parse::<LitStr>()?.parse()?);
            } else {
                return Err(meta
                    .error("unknown struct attribute: keyspace, connection, ttl, load or crate"));
            }
            Ok(())
        })?;
    }
    Ok(attrs)
}

fn field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut attrs = FieldAttrs::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("redpipe")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("key") {
                attrs.key = true;
            } else if meta.path.is_ident("extra") {
                attrs.extra = true;
            } else if meta.path.is_ident("rename") {
                attrs.rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("codec") {
                attrs.codec = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error("unknown field attribute: key, extra, rename or codec"));
            }
            Ok(())
        })?;
    }
    Ok(attrs)
}

/// `T` when `ty` is `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// The path to `redpipe-core` as the user's crate names it.
fn core_path(attrs: &StructAttrs) -> Tokens {
    use proc_macro_crate::{FoundCrate, crate_name};
    if let Some(path) = &attrs.krate {
        return quote!(#path);
    }
    // redpipe-core names itself `redpipe_core` (`extern crate self`), so that its doc tests,
    // which proc-macro-crate cannot tell from the crate itself, resolve the same path.
    for name in ["redpipe-core", "redpipe", "redpipe-wasm"] {
        match crate_name(name) {
            Ok(FoundCrate::Itself) if name == "redpipe-core" => return quote!(::redpipe_core),
            Ok(FoundCrate::Itself) => return quote!(crate),
            Ok(FoundCrate::Name(n)) => {
                let ident = Ident::new(&n, Span::call_site());
                return quote!(::#ident);
            }
            Err(_) => {}
        }
    }
    quote!(::redpipe_core)
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let attrs = struct_attrs(input)?;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "Struct is derived for structs with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "Struct is derived for structs with named fields",
        ));
    };
    let krate = core_path(&attrs);
    let rec = quote!(#krate::record);
    let private = quote!(#krate::record::__private);

    let mut key_field: Option<(&Ident, String)> = None;
    let mut extra_field: Option<&Ident> = None;
    let mut names = Vec::new();
    let mut required = Vec::new();
    let mut encode = Vec::new();
    let mut decode = Vec::new();
    let mut build = Vec::new();

    for field in &named.named {
        let Some(ident) = field.ident.as_ref() else {
            continue;
        };
        let fa = field_attrs(field)?;
        let member = fa.rename.clone().unwrap_or_else(|| ident.to_string());
        if fa.key {
            if key_field.is_some() {
                return Err(syn::Error::new_spanned(ident, "only one field is the key"));
            }
            key_field = Some((ident, member));
            continue;
        }
        if fa.extra {
            if extra_field.is_some() {
                return Err(syn::Error::new_spanned(
                    ident,
                    "only one field keeps extras",
                ));
            }
            extra_field = Some(ident);
            continue;
        }
        let optional = option_inner(&field.ty);
        let inner = optional.unwrap_or(&field.ty);
        let (enc, dec) = match &fa.codec {
            Some(codec) => (
                quote!(#rec::encode_with::<#codec>),
                quote!(#rec::decode_with::<#codec, #inner>),
            ),
            None => (
                quote!(<#inner as #rec::StructField>::encode_member),
                quote!(<#inner as #rec::StructField>::decode_member),
            ),
        };
        let wrap = quote!(|e| #rec::StructError::field(__key, #member, e));
        let local = Ident::new(&format!("__f_{ident}"), Span::call_site());
        if optional.is_some() {
            encode.push(quote! {
                __out.push((#private::String::from(#member), match &self.#ident {
                    #private::Some(v) => #private::Some(#enc(v).map_err(#wrap)?),
                    #private::None => #private::None,
                }));
            });
            decode.push(quote! {
                let #local = match __members.remove(#member) {
                    #private::Some(b) => #private::Some(#dec(&b).map_err(#wrap)?),
                    #private::None => #private::None,
                };
            });
        } else {
            required.push(member.clone());
            encode.push(quote! {
                __out.push((
                    #private::String::from(#member),
                    #private::Some(#enc(&self.#ident).map_err(#wrap)?),
                ));
            });
            decode.push(quote! {
                let #local = match __members.remove(#member) {
                    #private::Some(b) => #dec(&b).map_err(#wrap)?,
                    #private::None => {
                        return #private::Err(#rec::StructError::Missing {
                            key: #private::String::from(__key),
                            field: #member,
                        })
                    }
                };
            });
        }
        build.push(quote!(#ident: #local,));
        names.push(member);
    }

    let Some((key_ident, key_name)) = key_field else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "mark the field that holds the record's key with #[redpipe(key)]",
        ));
    };
    if names.contains(&key_name) {
        return Err(syn::Error::new_spanned(
            key_ident,
            "the key's name is also a field's member name",
        ));
    }

    if let Some(extra) = extra_field {
        encode.push(quote! {
            for (member, bytes) in #rec::ExtraFields::members(&self.#extra)
                .map_err(|(m, e)| #rec::StructError::field(__key, &m, e))?
            {
                if member == Self::KEY_NAME || Self::FIELDS.contains(&member) {
                    return #private::Err(#rec::StructError::ExtraField {
                        field: #private::String::from(member),
                    });
                }
                __out.push((#private::String::from(member), #private::Some(bytes)));
            }
        });
        decode.push(quote! {
            let __extra = #rec::ExtraFields::from_members(__members)
                .map_err(|(m, e)| #rec::StructError::field(__key, &m, e))?;
        });
        build.push(quote!(#extra: __extra,));
    } else {
        decode.push(quote!(let _ = __members;));
    }

    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let keyspace = &attrs.keyspace;
    let connection = &attrs.connection;
    let ttl = match attrs.ttl {
        Some(secs) => quote!(#private::Some(#secs)),
        None => quote!(#private::None),
    };
    let load = if attrs.load_defined {
        quote!(#rec::Load::Defined)
    } else {
        quote!(#rec::Load::All)
    };
    let count = names.len() + 1;

    Ok(quote! {
        impl #impl_generics #rec::Struct for #name #ty_generics #where_clause {
            const KEYSPACE: &'static str = #keyspace;
            const CONNECTION: &'static str = #connection;
            const KEY_NAME: &'static str = #key_name;
            const FIELDS: &'static [&'static str] = &[#(#names),*];
            const REQUIRED: &'static [&'static str] = &[#(#required),*];
            const TTL: #private::Option<i64> = #ttl;
            const LOAD: #rec::Load = #load;

            fn key(&self) -> &str {
                ::core::convert::AsRef::<str>::as_ref(&self.#key_ident)
            }

            fn encode_fields(&self) -> #private::Result<#rec::Members, #rec::StructError> {
                let __key = #rec::Struct::key(self);
                let mut __out = #private::Vec::with_capacity(#count);
                #(#encode)*
                #private::Ok(__out)
            }

            #[allow(unused_mut)]
            fn decode_fields(
                __key: &str,
                mut __members: #private::BTreeMap<#private::String, #private::Vec<u8>>,
            ) -> #private::Result<Self, #rec::StructError> {
                #(#decode)*
                #private::Ok(Self {
                    #key_ident: ::core::convert::From::from(__key),
                    #(#build)*
                })
            }
        }
    })
}
