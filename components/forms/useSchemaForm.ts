"use client";
// The console's one form layer: react-hook-form validated by the same zod schema the server
// checks (from shared/), the command id that makes a re-sent command harmless, and the server's
// answer mapped back onto the fields.
import { zodResolver } from "@hookform/resolvers/zod";
import { useEffect, useRef, useState } from "react";
import { useForm, type DefaultValues, type FieldValues, type Path } from "react-hook-form";
import type { z } from "zod";
import { useCommandId } from "@/components/clinical/form";
import { fieldErrorsBy, friendlyMessage, isUnanswered, readError, unansweredMessage, type ServerError } from "@/components/clinical/errors";
import { useLeaveGuard } from "./leaveGuard";

export function useSchemaForm<S extends z.ZodType<FieldValues, FieldValues>>(schema: S, defaultValues: DefaultValues<z.input<S>>) {
  // The schema may depend on what the screen knows (a patient's allergies): always the latest.
  const schemaRef = useRef(schema);
  useEffect(() => {
    schemaRef.current = schema;
  }, [schema]);
  const form = useForm<z.input<S>, unknown, z.output<S>>({
    resolver: ((values: never, context: never, options: never) => (zodResolver(schemaRef.current as never) as (...a: never[]) => unknown)(values, context, options)) as never,
    defaultValues,
    mode: "onSubmit",
    reValidateMode: "onChange",
    shouldFocusError: true,
  });
  const commandId = useCommandId();
  const [formError, setFormError] = useState<string | null>(null);
  // Typed and not saved: leaving the page asks first. A saved form closes or moves to the chart.
  const [saved, setSaved] = useState(false);
  useLeaveGuard(form.formState.isDirty && !saved);
  useEffect(() => {
    // Any edit is a new command: the server must not answer it with an earlier attempt's result.
    return form.subscribe({ formState: { values: true }, callback: () => commandId.edited() });
  }, [form, commandId]);

  return {
    form,
    commandId,
    formError,
    setFormError,
    /** The save went through: the navigation that follows it asks nothing. */
    markSaved: () => setSaved(true),
    /**
     * The server refused: mark the fields it named (its paths are the schema's, or `keyOf` maps
     * them; `fields` adds the messages of rules that name a field), say why in the form's alert,
     * and focus the first marked field. Returns the error for rule-specific handling.
     */
    failFromServer(
      error: unknown,
      message?: (e: ServerError, marked: Record<string, string>) => string | null,
      options: { keyOf?: (path: string) => string; fields?: (e: ServerError) => Record<string, string | undefined> } = {},
    ): ServerError {
      const e = readError(error);
      const marked: Record<string, string> = { ...fieldErrorsBy(e, options.keyOf ?? ((path) => path)) };
      for (const [key, text] of Object.entries(options.fields?.(e) ?? {})) if (text) marked[key] = text;
      let first = true;
      for (const [path, text] of Object.entries(marked)) {
        form.setError(path as Path<z.input<S>>, { message: text }, { shouldFocus: first });
        first = false;
      }
      const text = message?.(e, marked) ?? friendlyMessage(e);
      // Unanswered, the one honest thing to say is that the outcome is unknown, and how to learn it.
      if (isUnanswered(e)) commandId.unanswered();
      else commandId.reset();
      setFormError(isUnanswered(e) ? unansweredMessage : text);
      return e;
    },
  };
}

/** The message react-hook-form holds for a (possibly nested) field, as a string. */
export function errorOf(errors: Record<string, unknown>, path: string): string | undefined {
  let node: unknown = errors;
  for (const key of path.split(".")) node = (node as Record<string, unknown> | undefined)?.[key];
  const message = (node as { message?: unknown } | undefined)?.message;
  return typeof message === "string" ? message : undefined;
}

/** The form's alert: the server's message, or "Check the highlighted fields." once the form's own checks failed. */
export const formAlert = (serverMessage: string | null, errors: object): string | null =>
  serverMessage ?? (Object.keys(errors).length > 0 ? "Check the highlighted fields." : null);
